/* The slot masking and tokenising of detectors/text.py, for ASCII text, in one C pass per step.
 *
 * Ingest computes these for every request; in Python they are five regex substitutions, two
 * lower-case/split/join passes and a findall.  Each step below is the regex of text.py it stands
 * for, written out for ASCII input, where Python's Unicode classes reduce to:
 *   \s  = [ \t\n\v\f\r\x1c-\x1f]   (also what str.split() and str.strip() split on)
 *   \w  = [A-Za-z0-9_]             \d = [0-9]
 * word_mask does the word search of detectors/prompts.py.
 * Non-ASCII text is left to the Python code (slot_tokens returns None), which stays the reference;
 * tests/detectors/test_text_speedups.py checks that both agree.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef struct {
    char *data;
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
    char *data = PyMem_Realloc(b->data, (size_t)cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static int buf_put(Buffer *b, const char *s, Py_ssize_t n) {
    if (buf_reserve(b, n) < 0) {
        return -1;
    }
    memcpy(b->data + b->len, s, (size_t)n);
    b->len += n;
    return 0;
}

static void buf_free(Buffer *b) {
    PyMem_Free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static inline int is_space(unsigned char c) { return c == ' ' || (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x1f); }
static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int is_word(unsigned char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static inline int is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }

static const char *find3(const char *s, Py_ssize_t from, Py_ssize_t n, const char *needle) {
    Py_ssize_t i = from;
    while (i + 3 <= n) {
        const char *hit = memchr(s + i, needle[0], (size_t)(n - 2 - i));
        if (hit == NULL) {
            return NULL;
        }
        if (hit[1] == needle[1] && hit[2] == needle[2]) {
            return hit;
        }
        i = (hit - s) + 1;
    }
    return NULL;
}

/* ```.*?(```|$)  (re.S) → " <code> " */
static int sub_code(const char *s, Py_ssize_t n, Buffer *out) {
    Py_ssize_t i = 0;
    while (i < n) {
        const char *open = find3(s, i, n, "```");
        if (open == NULL) {
            return buf_put(out, s + i, n - i);
        }
        Py_ssize_t p = open - s;
        if (buf_put(out, s + i, p - i) < 0) {
            return -1;
        }
        const char *close = find3(s, p + 3, n, "```");
        Py_ssize_t end;
        if (close != NULL) {
            end = (close - s) + 3;
        } else if (s[n - 1] == '\n' && n - 1 >= p + 3) {
            end = n - 1; /* $ matches before a final newline */
        } else {
            end = n;
        }
        if (buf_put(out, " <code> ", 8) < 0) {
            return -1;
        }
        i = end;
    }
    return 0;
}

/* \S+@\S+\.\w+ starting at i, within the non-space run [i, r): the match end, or -1. */
static Py_ssize_t match_email(const char *s, Py_ssize_t i, Py_ssize_t r) {
    for (Py_ssize_t a = r - 1; a > i; a--) { /* the first \S+ gives back characters from the right */
        if (s[a] != '@') {
            continue;
        }
        for (Py_ssize_t d = r - 2; d >= a + 2; d--) { /* so does the second */
            if (s[d] == '.' && is_word((unsigned char)s[d + 1])) {
                Py_ssize_t e = d + 1;
                while (e < r && is_word((unsigned char)s[e])) {
                    e++;
                }
                return e;
            }
        }
    }
    return -1;
}

/* https?://\S+|\S+@\S+\.\w+ → " <url> " */
static int sub_url(const char *s, Py_ssize_t n, Buffer *out) {
    Py_ssize_t i = 0;
    Py_ssize_t run_end = -1;      /* end of the non-space run containing i (when i is in one) */
    int email_possible = 0;       /* whether \S+@... can still match somewhere in [i, run_end) */
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
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
            while (run_end < n && !is_space((unsigned char)s[run_end])) {
                run_end++;
            }
            email_possible = memchr(s + i, '@', (size_t)(run_end - i)) != NULL;
        }
        Py_ssize_t end = -1;
        if (c == 'h' && run_end - i >= 8 && memcmp(s + i, "http", 4) == 0) {
            Py_ssize_t j = i + 4;
            if (s[j] == 's' && memcmp(s + j + 1, "://", 3) == 0 && j + 4 < run_end) {
                end = run_end;
            } else if (memcmp(s + j, "://", 3) == 0 && j + 3 < run_end) {
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
            if (buf_put(out, " <url> ", 7) < 0) {
                return -1;
            }
            i = end;
            if (i >= run_end) {
                run_end = -1;
            } else {
                email_possible = memchr(s + i, '@', (size_t)(run_end - i)) != NULL;
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
static int sub_quoted(const char *s, Py_ssize_t n, Buffer *out) {
    Py_ssize_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\'' || c == '`') {
            Py_ssize_t k = i + 1;
            Py_ssize_t limit = i + 202 < n ? i + 202 : n; /* the closing quote is at most 201 on */
            while (k < limit && s[k] != (char)c && s[k] != '\n') {
                k++;
            }
            if (k < limit && s[k] == (char)c && k - i - 1 >= 1) {
                if (buf_put(out, " <quote> ", 9) < 0) {
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

/* \b\w*\d\w*\b → " <num> ": every maximal word run holding a digit (none is left for [-+]?\d…) */
static int sub_mixed(const char *s, Py_ssize_t n, Buffer *out) {
    Py_ssize_t i = 0;
    while (i < n) {
        if (!is_word((unsigned char)s[i])) {
            Py_ssize_t j = i;
            while (j < n && !is_word((unsigned char)s[j])) {
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
        while (j < n && is_word((unsigned char)s[j])) {
            digit |= is_digit((unsigned char)s[j]);
            j++;
        }
        if (digit ? buf_put(out, " <num> ", 7) : buf_put(out, s + i, j - i)) {
            return -1;
        }
        i = j;
    }
    return 0;
}

/* " ".join(text.lower().split()) */
static PyObject *normalised(const char *s, Py_ssize_t n) {
    Buffer out = {0};
    if (buf_reserve(&out, n + 1) < 0) {
        return NULL;
    }
    Py_ssize_t i = 0;
    while (i < n) {
        while (i < n && is_space((unsigned char)s[i])) {
            i++;
        }
        if (i >= n) {
            break;
        }
        if (out.len) {
            out.data[out.len++] = ' ';
        }
        while (i < n && !is_space((unsigned char)s[i])) {
            unsigned char c = (unsigned char)s[i++];
            out.data[out.len++] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
        }
    }
    PyObject *text = PyUnicode_DecodeASCII(out.data, out.len, NULL);
    buf_free(&out);
    return text;
}

/* [a-z][a-z']+|<[a-z]+> over normalised (lower-case) text */
static PyObject *find_tokens(const char *s, Py_ssize_t n) {
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    Py_ssize_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        Py_ssize_t end = -1;
        if (is_lower(c)) {
            Py_ssize_t j = i + 1;
            while (j < n && (is_lower((unsigned char)s[j]) || s[j] == '\'')) {
                j++;
            }
            if (j - i >= 2) {
                end = j;
            }
        } else if (c == '<') {
            Py_ssize_t j = i + 1;
            while (j < n && is_lower((unsigned char)s[j])) {
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
        PyObject *token = PyUnicode_DecodeASCII(s + i, end - i, NULL);
        if (token == NULL || PyList_Append(list, token) < 0) {
            Py_XDECREF(token);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(token);
        i = end;
    }
    return list;
}

typedef int (*Step)(const char *, Py_ssize_t, Buffer *);

static PyObject *slot_tokens(PyObject *Py_UNUSED(module), PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "slot_tokens() expects a str");
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(arg)) {
        Py_RETURN_NONE;
    }
    const char *text = (const char *)PyUnicode_1BYTE_DATA(arg);
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);

    static const Step steps[] = {sub_code, sub_url, sub_quoted, sub_mixed};
    Buffer bufs[2] = {{0}, {0}};
    const char *cur = text;
    Py_ssize_t cur_len = n;
    int which = 0;
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        Buffer *out = &bufs[which];
        out->len = 0;
        if (buf_reserve(out, cur_len + 16) < 0 || steps[k](cur, cur_len, out) < 0) {
            buf_free(&bufs[0]);
            buf_free(&bufs[1]);
            return NULL;
        }
        cur = out->data;
        cur_len = out->len;
        which ^= 1;
    }
    /* normalise the masked text in place, then tokenise it */
    PyObject *masked = normalised(cur, cur_len);
    buf_free(&bufs[0]);
    buf_free(&bufs[1]);
    if (masked == NULL) {
        return NULL;
    }
    PyObject *tokens = find_tokens((const char *)PyUnicode_1BYTE_DATA(masked), PyUnicode_GET_LENGTH(masked));
    Py_DECREF(masked);
    if (tokens == NULL) {
        return NULL;
    }
    PyObject *plain = normalised(text, n);
    if (plain == NULL) {
        Py_DECREF(tokens);
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
 * for words[i].  The Aho-Corasick pass of detectors/prompts.py, on ASCII text (None for other text). */
static PyObject *word_mask(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *text, *words;
    if (!PyArg_ParseTuple(args, "UO!:word_mask", &text, &PyTuple_Type, &words)) {
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(text)) {
        Py_RETURN_NONE;
    }
    if (words != cached_words && index_words(words) < 0) {
        return NULL;
    }
    const unsigned char *s = PyUnicode_1BYTE_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    unsigned long long bits[2] = {0, 0};
    for (Py_ssize_t i = 0; i + 1 < n; i++) {
        for (int w = word_head[s[i] | (s[i + 1] << 7)]; w >= 0; w = word_next[w]) {
            if (word_length[w] <= n - i && memcmp(s + i, word_text[w], (size_t)word_length[w]) == 0) {
                bits[w >> 6] |= 1ULL << (w & 63);
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
     "word_mask(text, words) -> int with bit i set when words[i] occurs in text; None for non-ASCII text."},
    {"slot_tokens", slot_tokens, METH_O,
     "slot_tokens(text) -> (normalise(text), tokens(text)) for ASCII text, None for any other text."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_textfast",
    .m_doc = "C fast paths of detectors.text and detectors.prompts for ASCII text.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__textfast(void) { return PyModule_Create(&module); }
