/* The slot masking and tokenising of detectors/text.py, and the word search of detectors/prompts.py, in C.
 *
 * Ingest computes these for every request; in Python they are five regex substitutions, two
 * lower-case/split/join passes and a findall.  Each step below is the regex of text.py it stands
 * for, written out by hand over the text's code points, with the classes Python's re gives a str
 * pattern (Modules/_sre/sre.c):
 *   \s = Py_UNICODE_ISSPACE (also what str.split() splits on)
 *   \w = Py_UNICODE_ISALNUM or '_'        \d = Py_UNICODE_ISDECIMAL
 * Lower-casing is str.lower() itself.  The Python functions stay the reference:
 * tests/detectors/test_textfast.py checks that both agree.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef Py_UCS4 Ch;

typedef struct {
    Ch *data;
    Py_ssize_t len;
    Py_ssize_t cap;
} Buffer;

static int buf_reserve(Buffer *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) {
        return 0;
    }
    Py_ssize_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra) {
        cap *= 2;
    }
    Ch *data = PyMem_Realloc(b->data, (size_t)cap * sizeof(Ch));
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static int buf_put(Buffer *b, const Ch *s, Py_ssize_t n) {
    if (buf_reserve(b, n) < 0) {
        return -1;
    }
    memcpy(b->data + b->len, s, (size_t)n * sizeof(Ch));
    b->len += n;
    return 0;
}

static int buf_put_ascii(Buffer *b, const char *s) {
    Py_ssize_t n = (Py_ssize_t)strlen(s);
    if (buf_reserve(b, n) < 0) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        b->data[b->len++] = (Ch)(unsigned char)s[i];
    }
    return 0;
}

static void buf_free(Buffer *b) {
    PyMem_Free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static inline int is_space(Ch c) {
    return c < 128 ? (c == ' ' || (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x1f)) : Py_UNICODE_ISSPACE(c);
}
static inline int is_digit(Ch c) { return c < 128 ? (c >= '0' && c <= '9') : Py_UNICODE_ISDECIMAL(c); }
static inline int is_word(Ch c) {
    if (c < 128) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    }
    return Py_UNICODE_ISALNUM(c);
}
static inline int is_lower(Ch c) { return c >= 'a' && c <= 'z'; }

static int starts_with(const Ch *s, Py_ssize_t i, Py_ssize_t n, const char *prefix) {
    for (Py_ssize_t k = 0; prefix[k]; k++) {
        if (i + k >= n || s[i + k] != (Ch)(unsigned char)prefix[k]) {
            return 0;
        }
    }
    return 1;
}

static Py_ssize_t find_fence(const Ch *s, Py_ssize_t from, Py_ssize_t n) {
    for (Py_ssize_t i = from; i + 3 <= n; i++) {
        if (s[i] == '`' && s[i + 1] == '`' && s[i + 2] == '`') {
            return i;
        }
    }
    return -1;
}

/* ```.*?(```|$)  (re.S) → " <code> " */
static int sub_code(const Ch *s, Py_ssize_t n, Buffer *out) {
    Py_ssize_t i = 0;
    while (i < n) {
        Py_ssize_t p = find_fence(s, i, n);
        if (p < 0) {
            return buf_put(out, s + i, n - i);
        }
        if (buf_put(out, s + i, p - i) < 0) {
            return -1;
        }
        Py_ssize_t close = find_fence(s, p + 3, n);
        Py_ssize_t end;
        if (close >= 0) {
            end = close + 3;
        } else if (s[n - 1] == '\n' && n - 1 >= p + 3) {
            end = n - 1; /* $ matches before a final newline */
        } else {
            end = n;
        }
        if (buf_put_ascii(out, " <code> ") < 0) {
            return -1;
        }
        i = end;
    }
    return 0;
}

/* \S+@\S+\.\w+ starting at i, within the non-space run [i, r): the match end, or -1. */
static Py_ssize_t match_email(const Ch *s, Py_ssize_t i, Py_ssize_t r) {
    for (Py_ssize_t a = r - 1; a > i; a--) { /* the first \S+ gives back characters from the right */
        if (s[a] != '@') {
            continue;
        }
        for (Py_ssize_t d = r - 2; d >= a + 2; d--) { /* so does the second */
            if (s[d] == '.' && is_word(s[d + 1])) {
                Py_ssize_t e = d + 1;
                while (e < r && is_word(s[e])) {
                    e++;
                }
                return e;
            }
        }
    }
    return -1;
}

static int has_at(const Ch *s, Py_ssize_t from, Py_ssize_t to) {
    for (Py_ssize_t i = from; i < to; i++) {
        if (s[i] == '@') {
            return 1;
        }
    }
    return 0;
}

/* https?://\S+|\S+@\S+\.\w+ → " <url> " */
static int sub_url(const Ch *s, Py_ssize_t n, Buffer *out) {
    Py_ssize_t i = 0;
    Py_ssize_t run_end = -1; /* end of the non-space run containing i (when i is in one) */
    int email_possible = 0;  /* whether \S+@... can still match somewhere in [i, run_end) */
    while (i < n) {
        Ch c = s[i];
        if (is_space(c)) {
            if (buf_put(out, s + i, 1) < 0) {
                return -1;
            }
            i++;
            run_end = -1;
            continue;
        }
        if (run_end < 0) {
            run_end = i;
            while (run_end < n && !is_space(s[run_end])) {
                run_end++;
            }
            email_possible = has_at(s, i, run_end);
        }
        Py_ssize_t end = -1;
        if (c == 'h') {
            if (starts_with(s, i, run_end, "https://") && i + 8 < run_end) {
                end = run_end;
            } else if (starts_with(s, i, run_end, "http://") && i + 7 < run_end) {
                end = run_end;
            }
        }
        if (end < 0 && email_possible) {
            end = match_email(s, i, run_end);
            if (end < 0) {
                email_possible = 0; /* fewer characters to the right of i+1: no match later in the run */
            }
        }
        if (end >= 0) {
            if (buf_put_ascii(out, " <url> ") < 0) {
                return -1;
            }
            i = end;
            if (i >= run_end) {
                run_end = -1;
            } else {
                email_possible = has_at(s, i, run_end);
            }
            continue;
        }
        if (buf_put(out, s + i, 1) < 0) {
            return -1;
        }
        i++;
        if (i >= run_end) {
            run_end = -1;
        }
    }
    return 0;
}

/* "[^"\n]{1,200}"|'[^'\n]{1,200}'|`[^`\n]{1,200}` → " <quote> " */
static int sub_quoted(const Ch *s, Py_ssize_t n, Buffer *out) {
    Py_ssize_t i = 0;
    while (i < n) {
        Ch c = s[i];
        if (c == '"' || c == '\'' || c == '`') {
            Py_ssize_t k = i + 1;
            Py_ssize_t limit = i + 202 < n ? i + 202 : n; /* the closing quote is at most 201 on */
            while (k < limit && s[k] != c && s[k] != '\n') {
                k++;
            }
            if (k < limit && s[k] == c && k - i - 1 >= 1) {
                if (buf_put_ascii(out, " <quote> ") < 0) {
                    return -1;
                }
                i = k + 1;
                continue;
            }
        }
        if (buf_put(out, s + i, 1) < 0) {
            return -1;
        }
        i++;
    }
    return 0;
}

/* \b\w*\d\w*\b → " <num> ": every maximal word run holding a digit.  Digits are word characters,
 * so none is left for the [-+]?\d[\d,._:/]* that text.py runs next. */
static int sub_mixed(const Ch *s, Py_ssize_t n, Buffer *out) {
    Py_ssize_t i = 0;
    while (i < n) {
        if (!is_word(s[i])) {
            Py_ssize_t j = i;
            while (j < n && !is_word(s[j])) {
                j++;
            }
            if (buf_put(out, s + i, j - i) < 0) {
                return -1;
            }
            i = j;
            continue;
        }
        Py_ssize_t j = i;
        int digit = 0;
        while (j < n && is_word(s[j])) {
            digit |= is_digit(s[j]);
            j++;
        }
        if (digit ? buf_put_ascii(out, " <num> ") : buf_put(out, s + i, j - i)) {
            return -1;
        }
        i = j;
    }
    return 0;
}

/* " ".join(text.split()) of lower-case text into out */
static int split_join(const Ch *s, Py_ssize_t n, Buffer *out) {
    if (buf_reserve(out, n + 1) < 0) {
        return -1;
    }
    Py_ssize_t i = 0;
    while (i < n) {
        while (i < n && is_space(s[i])) {
            i++;
        }
        if (i >= n) {
            break;
        }
        if (out->len) {
            out->data[out->len++] = ' ';
        }
        while (i < n && !is_space(s[i])) {
            out->data[out->len++] = s[i++];
        }
    }
    return 0;
}

/* " ".join(text.lower().split()) into out; ``text`` is the str, or NULL when s is ASCII */
static int normalise_into(PyObject *text, const Ch *s, Py_ssize_t n, Buffer *out) {
    if (text == NULL) {
        if (split_join(s, n, out) < 0) {
            return -1;
        }
        for (Py_ssize_t i = 0; i < out->len; i++) {
            Ch c = out->data[i];
            if (c >= 'A' && c <= 'Z') {
                out->data[i] = c + 32;
            }
        }
        return 0;
    }
    PyObject *lowered = PyObject_CallMethod(text, "lower", NULL);
    if (lowered == NULL) {
        return -1;
    }
    Ch *chars = PyUnicode_AsUCS4Copy(lowered);
    Py_ssize_t len = PyUnicode_GET_LENGTH(lowered);
    Py_DECREF(lowered);
    if (chars == NULL) {
        return -1;
    }
    int status = split_join(chars, len, out);
    PyMem_Free(chars);
    return status;
}

static PyObject *to_str(const Buffer *b) {
    return PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, b->data, b->len);
}

/* [a-z][a-z']+|<[a-z]+> */
static PyObject *find_tokens(const Ch *s, Py_ssize_t n) {
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    Py_ssize_t i = 0;
    while (i < n) {
        Ch c = s[i];
        Py_ssize_t end = -1;
        if (is_lower(c)) {
            Py_ssize_t j = i + 1;
            while (j < n && (is_lower(s[j]) || s[j] == '\'')) {
                j++;
            }
            if (j - i >= 2) {
                end = j;
            }
        } else if (c == '<') {
            Py_ssize_t j = i + 1;
            while (j < n && is_lower(s[j])) {
                j++;
            }
            if (j > i + 1 && j < n && s[j] == '>') {
                end = j + 1;
            }
        }
        if (end < 0) {
            i++;
            continue;
        }
        PyObject *token = PyUnicode_New(end - i, 127);
        if (token == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        Py_UCS1 *data = PyUnicode_1BYTE_DATA(token);
        for (Py_ssize_t k = i; k < end; k++) {
            data[k - i] = (Py_UCS1)s[k];
        }
        if (PyList_Append(list, token) < 0) {
            Py_DECREF(token);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(token);
        i = end;
    }
    return list;
}

typedef int (*Step)(const Ch *, Py_ssize_t, Buffer *);

/* slot_tokens(text) -> (normalise(text), tokens(text)) */
static PyObject *slot_tokens(PyObject *Py_UNUSED(module), PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "slot_tokens() expects a str");
        return NULL;
    }
    int ascii = PyUnicode_IS_ASCII(arg);
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    Ch *text = PyUnicode_AsUCS4Copy(arg);
    if (text == NULL) {
        return NULL;
    }
    static const Step steps[] = {sub_code, sub_url, sub_quoted, sub_mixed};
    Buffer bufs[2] = {{0}, {0}};
    Buffer norm = {0};
    PyObject *masked = NULL, *tokens = NULL, *plain = NULL;
    const Ch *cur = text;
    Py_ssize_t cur_len = n;
    int which = 0;
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        Buffer *out = &bufs[which];
        out->len = 0;
        if (buf_reserve(out, cur_len + 16) < 0 || steps[k](cur, cur_len, out) < 0) {
            goto done;
        }
        cur = out->data;
        cur_len = out->len;
        which ^= 1;
    }
    if (!ascii) {
        Buffer last = {(Ch *)cur, cur_len, cur_len};
        masked = to_str(&last);
        if (masked == NULL) {
            goto done;
        }
    }
    if (normalise_into(masked, cur, cur_len, &norm) < 0) {
        goto done;
    }
    tokens = find_tokens(norm.data, norm.len);
    if (tokens == NULL) {
        goto done;
    }
    norm.len = 0;
    if (normalise_into(ascii ? NULL : arg, text, n, &norm) < 0) {
        Py_CLEAR(tokens);
        goto done;
    }
    plain = to_str(&norm);
    if (plain == NULL) {
        Py_CLEAR(tokens);
    }
done:
    Py_XDECREF(masked);
    buf_free(&bufs[0]);
    buf_free(&bufs[1]);
    buf_free(&norm);
    PyMem_Free(text);
    if (tokens == NULL) {
        return NULL;
    }
    return Py_BuildValue("(NN)", plain, tokens);
}

/* The word list of the last word_mask call, indexed by each word's first two characters (every
 * word has at least two): most positions of a text start no word, and cost one table look-up. */
static PyObject *cached_words = NULL;
static Py_ssize_t n_cached;
static const char *word_text[128];
static Py_ssize_t word_length[128];
static signed char word_next[128];
static signed char word_head[1 << 14]; /* two 7-bit ASCII characters */

static int index_words(PyObject *words) {
    Py_ssize_t n_words = PyTuple_GET_SIZE(words);
    if (n_words > 128) {
        PyErr_SetString(PyExc_ValueError, "word_mask() takes at most 128 words");
        return -1;
    }
    for (Py_ssize_t w = 0; w < n_words; w++) {
        PyObject *item = PyTuple_GET_ITEM(words, w);
        if (!PyUnicode_Check(item) || !PyUnicode_IS_ASCII(item) || PyUnicode_GET_LENGTH(item) < 2) {
            PyErr_SetString(PyExc_ValueError, "word_mask() words must be ASCII strings of two or more characters");
            return -1;
        }
    }
    memset(word_head, -1, sizeof word_head);
    for (Py_ssize_t w = n_words - 1; w >= 0; w--) {
        PyObject *item = PyTuple_GET_ITEM(words, w);
        const unsigned char *text = PyUnicode_1BYTE_DATA(item);
        word_text[w] = (const char *)text;
        word_length[w] = PyUnicode_GET_LENGTH(item);
        int key = text[0] | (text[1] << 7);
        word_next[w] = word_head[key];
        word_head[key] = (signed char)w;
    }
    Py_INCREF(words); /* keeps word_text alive */
    Py_XSETREF(cached_words, words);
    n_cached = n_words;
    return 0;
}

/* Which of ``words`` (ASCII, 2+ characters, at most 128) occur in ``text``, overlaps included: bit i
 * for words[i].  The Aho-Corasick pass of detectors/prompts.py. */
static PyObject *word_mask(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *text, *words;
    if (!PyArg_ParseTuple(args, "UO!:word_mask", &text, &PyTuple_Type, &words)) {
        return NULL;
    }
    if (words != cached_words && index_words(words) < 0) {
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    unsigned long long bits[2] = {0, 0};
    if (PyUnicode_IS_ASCII(text)) {
        const unsigned char *s = PyUnicode_1BYTE_DATA(text);
        for (Py_ssize_t i = 0; i + 1 < n; i++) {
            for (int w = word_head[s[i] | (s[i + 1] << 7)]; w >= 0; w = word_next[w]) {
                if (word_length[w] <= n - i && memcmp(s + i, word_text[w], (size_t)word_length[w]) == 0) {
                    bits[w >> 6] |= 1ULL << (w & 63);
                }
            }
        }
    } else {
        int kind = PyUnicode_KIND(text);
        const void *data = PyUnicode_DATA(text);
        for (Py_ssize_t i = 0; i + 1 < n; i++) {
            Py_UCS4 first = PyUnicode_READ(kind, data, i), second = PyUnicode_READ(kind, data, i + 1);
            if (first >= 128 || second >= 128) {
                continue;
            }
            for (int w = word_head[first | (second << 7)]; w >= 0; w = word_next[w]) {
                Py_ssize_t k = 2;
                while (k < word_length[w] && i + k < n &&
                       PyUnicode_READ(kind, data, i + k) == (Py_UCS4)(unsigned char)word_text[w][k]) {
                    k++;
                }
                if (k == word_length[w]) {
                    bits[w >> 6] |= 1ULL << (w & 63);
                }
            }
        }
    }
    if (bits[1] == 0) {
        return PyLong_FromUnsignedLongLong(bits[0]);
    }
    PyObject *high = PyLong_FromUnsignedLongLong(bits[1]);
    PyObject *shift = PyLong_FromLong(64);
    PyObject *low = PyLong_FromUnsignedLongLong(bits[0]);
    PyObject *shifted = (high && shift) ? PyNumber_Lshift(high, shift) : NULL;
    PyObject *result = (shifted && low) ? PyNumber_Or(shifted, low) : NULL;
    Py_XDECREF(high);
    Py_XDECREF(shift);
    Py_XDECREF(low);
    Py_XDECREF(shifted);
    return result;
}

static PyMethodDef methods[] = {
    {"word_mask", word_mask, METH_VARARGS,
     "word_mask(text, words) -> int with bit i set when words[i] occurs in text"},
    {"slot_tokens", slot_tokens, METH_O, "slot_tokens(text) -> (normalise(text), tokens(text))"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_textfast",
    .m_doc = "C fast paths of detectors.text and detectors.prompts.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__textfast(void) { return PyModule_Create(&module); }
