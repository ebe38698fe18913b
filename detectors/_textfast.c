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
#include <stdint.h>
#include <math.h>
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
    Py_ssize_t kept = 0;     /* s[kept:i] is copied when the next match (or the end) comes */
    Py_ssize_t run_end = -1; /* end of the non-space run containing i (when i is in one) */
    int email_possible = 0;  /* whether \S+@... can still match somewhere in [i, run_end) */
    while (i < n) {
        Ch c = s[i];
        if (is_space(c)) {
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
            if (buf_put(out, s + kept, i - kept) < 0 || buf_put_ascii(out, " <url> ") < 0) {
                return -1;
            }
            i = kept = end;
            if (i >= run_end) {
                run_end = -1;
            } else {
                email_possible = has_at(s, i, run_end);
            }
            continue;
        }
        i++;
        if (i >= run_end) {
            run_end = -1;
        }
    }
    return buf_put(out, s + kept, n - kept);
}

/* "[^"\n]{1,200}"|'[^'\n]{1,200}'|`[^`\n]{1,200}` → " <quote> " */
static int sub_quoted(const Ch *s, Py_ssize_t n, Buffer *out) {
    Py_ssize_t i = 0;
    Py_ssize_t kept = 0; /* s[kept:i] is copied when the next match (or the end) comes */
    while (i < n) {
        Ch c = s[i];
        if (c == '"' || c == '\'' || c == '`') {
            Py_ssize_t k = i + 1;
            Py_ssize_t limit = i + 202 < n ? i + 202 : n; /* the closing quote is at most 201 on */
            while (k < limit && s[k] != c && s[k] != '\n') {
                k++;
            }
            if (k < limit && s[k] == c && k - i - 1 >= 1) {
                if (buf_put(out, s + kept, i - kept) < 0 || buf_put_ascii(out, " <quote> ") < 0) {
                    return -1;
                }
                i = kept = k + 1;
                continue;
            }
        }
        i++;
    }
    return buf_put(out, s + kept, n - kept);
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

/* BLAKE2b (RFC 7693), unkeyed, for the token hashes: hashlib.blake2b(token, digest_size=3).  One
 * compression for a token of up to 128 bytes, and a direct-mapped table of recent tokens: cheaper
 * than looking each token up in a Python dict of a vocabulary (a cache miss or three per token). */
static const uint64_t blake2b_iv[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};
static const uint8_t blake2b_sigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

static inline uint64_t rotr64(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

#define B2B_G(a, b, c, d, x, y)         \
    do {                                \
        v[a] = v[a] + v[b] + (x);       \
        v[d] = rotr64(v[d] ^ v[a], 32); \
        v[c] = v[c] + v[d];             \
        v[b] = rotr64(v[b] ^ v[c], 24); \
        v[a] = v[a] + v[b] + (y);       \
        v[d] = rotr64(v[d] ^ v[a], 16); \
        v[c] = v[c] + v[d];             \
        v[b] = rotr64(v[b] ^ v[c], 63); \
    } while (0)

static void blake2b_compress(uint64_t h[8], const uint8_t block[128], uint64_t counter, int last) {
    uint64_t v[16], m[16];
    for (int i = 0; i < 16; i++) {
        uint64_t word = 0;
        for (int k = 7; k >= 0; k--) {
            word = (word << 8) | block[i * 8 + k];
        }
        m[i] = word;
    }
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = blake2b_iv[i];
    }
    v[12] ^= counter;
    if (last) {
        v[14] = ~v[14];
    }
    for (int r = 0; r < 12; r++) {
        const uint8_t *s = blake2b_sigma[r];
        B2B_G(0, 4, 8, 12, m[s[0]], m[s[1]]);
        B2B_G(1, 5, 9, 13, m[s[2]], m[s[3]]);
        B2B_G(2, 6, 10, 14, m[s[4]], m[s[5]]);
        B2B_G(3, 7, 11, 15, m[s[6]], m[s[7]]);
        B2B_G(0, 5, 10, 15, m[s[8]], m[s[9]]);
        B2B_G(1, 6, 11, 12, m[s[10]], m[s[11]]);
        B2B_G(2, 7, 8, 13, m[s[12]], m[s[13]]);
        B2B_G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) {
        h[i] ^= v[i] ^ v[i + 8];
    }
}

/* BLAKE2b with a digest of ``size`` bytes (1..8) of data, as lower-case hex into hex */
static void blake2b_hex(const uint8_t *data, size_t length, int size, char *hex) {
    uint64_t h[8];
    memcpy(h, blake2b_iv, sizeof h);
    h[0] ^= 0x01010000ULL ^ (uint64_t)size;
    uint64_t counter = 0;
    while (length > 128) {
        counter += 128;
        blake2b_compress(h, data, counter, 0);
        data += 128;
        length -= 128;
    }
    uint8_t block[128] = {0};
    memcpy(block, data, length);
    blake2b_compress(h, block, counter + length, 1);
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < size; i++) {
        uint8_t byte = (uint8_t)(h[i / 8] >> (8 * (i % 8)));
        hex[2 * i] = digits[byte >> 4];
        hex[2 * i + 1] = digits[byte & 15];
    }
}

#define TOKEN_SLOTS (1 << 15)
#define TOKEN_KEPT 26
typedef struct {
    uint8_t length; /* 0: an empty slot */
    char token[TOKEN_KEPT];
    char hex[6];
} TokenSlot;
static TokenSlot token_slots[TOKEN_SLOTS];

/* the 6 hex characters of an ASCII token's hash */
static int token_hex(const Ch *token, Py_ssize_t length, char *hex) {
    char small[TOKEN_KEPT];
    if (length == 0 || length > TOKEN_KEPT) { /* length 0 marks an empty slot */
        char *bytes = PyMem_Malloc((size_t)length + 1);
        if (bytes == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (Py_ssize_t i = 0; i < length; i++) {
            bytes[i] = (char)token[i];
        }
        blake2b_hex((const uint8_t *)bytes, (size_t)length, 3, hex);
        PyMem_Free(bytes);
        return 0;
    }
    uint32_t slot_hash = 2166136261u; /* FNV-1a */
    for (Py_ssize_t i = 0; i < length; i++) {
        small[i] = (char)token[i];
        slot_hash = (slot_hash ^ (uint8_t)small[i]) * 16777619u;
    }
    TokenSlot *slot = &token_slots[slot_hash & (TOKEN_SLOTS - 1)];
    if (slot->length == length && memcmp(slot->token, small, (size_t)length) == 0) {
        memcpy(hex, slot->hex, 6);
        return 0;
    }
    blake2b_hex((const uint8_t *)small, (size_t)length, 3, hex);
    slot->length = (uint8_t)length;
    memcpy(slot->token, small, (size_t)length);
    memcpy(slot->hex, hex, 6);
    return 0;
}

/* token_hash(token) -> hashlib.blake2b(token.encode(), digest_size=3).hexdigest(), for an ASCII token */
static PyObject *token_hash(PyObject *Py_UNUSED(module), PyObject *arg) {
    if (!PyUnicode_Check(arg) || !PyUnicode_IS_ASCII(arg)) {
        PyErr_SetString(PyExc_TypeError, "token_hash() expects an ASCII str");
        return NULL;
    }
    Ch *chars = PyUnicode_AsUCS4Copy(arg);
    if (chars == NULL) {
        return NULL;
    }
    char hex[6];
    int status = token_hex(chars, PyUnicode_GET_LENGTH(arg), hex);
    PyMem_Free(chars);
    return status < 0 ? NULL : PyUnicode_DecodeASCII(hex, 6, NULL);
}

/* The next match of [a-z][a-z']+|<[a-z]+> in s[i:n]: its start in *start, its end returned (-1: none) */
static Py_ssize_t next_token(const Ch *s, Py_ssize_t i, Py_ssize_t n, Py_ssize_t *start) {
    while (i < n) {
        Ch c = s[i];
        if (is_lower(c)) {
            Py_ssize_t j = i + 1;
            while (j < n && (is_lower(s[j]) || s[j] == '\'')) {
                j++;
            }
            if (j - i >= 2) {
                *start = i;
                return j;
            }
        } else if (c == '<') {
            Py_ssize_t j = i + 1;
            while (j < n && is_lower(s[j])) {
                j++;
            }
            if (j > i + 1 && j < n && s[j] == '>') {
                *start = i;
                return j + 1;
            }
        }
        i++;
    }
    return -1;
}

static PyObject *find_tokens(const Ch *s, Py_ssize_t n) {
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    Py_ssize_t start = 0, end = 0;
    while ((end = next_token(s, end, n, &start)) >= 0) {
        PyObject *token = PyUnicode_New(end - start, 127);
        if (token == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        Py_UCS1 *data = PyUnicode_1BYTE_DATA(token);
        for (Py_ssize_t k = start; k < end; k++) {
            data[k - start] = (Py_UCS1)s[k];
        }
        if (PyList_Append(list, token) < 0) {
            Py_DECREF(token);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(token);
    }
    return list;
}

typedef int (*Step)(const Ch *, Py_ssize_t, Buffer *);

/* normalise(mask_slots(text)) into masked, normalise(text) as a str into *plain, or (plain NULL) into *norm_out */
static int mask_and_normalise(PyObject *arg, Buffer *masked, PyObject **plain, Buffer *norm_out) {
    if (plain != NULL) {
        *plain = NULL;
    }
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "expected a str");
        return -1;
    }
    int ascii = PyUnicode_IS_ASCII(arg);
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    Ch *text = PyUnicode_AsUCS4Copy(arg);
    if (text == NULL) {
        return -1;
    }
    static const Step steps[] = {sub_code, sub_url, sub_quoted, sub_mixed};
    /* A step that cannot match leaves the text as it is: skip it.  What each needs ('`'; '@' or
     * "://"; a quote; a digit) is looked for in the original text: the steps only remove such
     * characters, and what they insert holds none. */
    int needed[4] = {0, 0, 0, 0};
    for (Py_ssize_t i = 0; i < n; i++) {
        Ch c = text[i];
        if (c == '`') {
            needed[0] = needed[2] = 1;
        } else if (c == '@' || (c == ':' && i + 2 < n && text[i + 1] == '/' && text[i + 2] == '/')) {
            needed[1] = 1;
        } else if (c == '"' || c == '\'') {
            needed[2] = 1;
        } else if (is_digit(c)) {
            needed[3] = 1;
        }
    }
    Buffer bufs[2] = {{0}, {0}};
    Buffer norm = {0};
    PyObject *masked_str = NULL;
    int status = -1;
    const Ch *cur = text;
    Py_ssize_t cur_len = n;
    int which = 0;
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        if (!needed[k]) {
            continue;
        }
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
        masked_str = to_str(&last);
        if (masked_str == NULL) {
            goto done;
        }
    }
    if (normalise_into(masked_str, cur, cur_len, masked) < 0) {
        goto done;
    }
    if (normalise_into(ascii ? NULL : arg, text, n, &norm) < 0) {
        goto done;
    }
    if (plain == NULL) {
        *norm_out = norm;
        norm = (Buffer){0};
        status = 0;
    } else {
        *plain = to_str(&norm);
        status = *plain == NULL ? -1 : 0;
    }
done:
    Py_XDECREF(masked_str);
    buf_free(&bufs[0]);
    buf_free(&bufs[1]);
    buf_free(&norm);
    PyMem_Free(text);
    return status;
}

/* slot_tokens(text) -> (normalise(text), tokens(text)) */
static PyObject *slot_tokens(PyObject *Py_UNUSED(module), PyObject *arg) {
    Buffer masked = {0};
    PyObject *plain;
    if (mask_and_normalise(arg, &masked, &plain, NULL) < 0) {
        buf_free(&masked);
        return NULL;
    }
    PyObject *tokens = find_tokens(masked.data, masked.len);
    buf_free(&masked);
    if (tokens == NULL) {
        Py_DECREF(plain);
        return NULL;
    }
    return Py_BuildValue("(NN)", plain, tokens);
}

/* The tokens of a masked text joined by spaces into `joined` (room for 2 * len + 1), and the hex hashes of
 * the first `max_tokens` of them joined by spaces into `hashes` (room for 7 * max_tokens + 1). */
static int join_tokens(const Buffer *masked, Py_ssize_t max_tokens, char *joined, Py_ssize_t *joined_len,
                       char *hashes, Py_ssize_t *hashes_len) {
    Py_ssize_t count = 0, start = 0, end = 0;
    while ((end = next_token(masked->data, end, masked->len, &start)) >= 0) {
        if (*joined_len) {
            joined[(*joined_len)++] = ' ';
        }
        for (Py_ssize_t k = start; k < end; k++) {
            joined[(*joined_len)++] = (char)masked->data[k];
        }
        if (count < max_tokens) {
            if (count) {
                hashes[(*hashes_len)++] = ' ';
            }
            if (token_hex(masked->data + start, end - start, hashes + *hashes_len) < 0) {
                return -1;
            }
            *hashes_len += 6;
        }
        count++;
    }
    return 0;
}

/* slot_signals(text, max_tokens) -> (normalise(text), " ".join(tokens(text)),
 *                                    " ".join(token_hash(t) for t in tokens(text)[:max_tokens])) */
static PyObject *slot_signals(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *arg;
    Py_ssize_t max_tokens;
    if (!PyArg_ParseTuple(args, "Un:slot_signals", &arg, &max_tokens)) {
        return NULL;
    }
    Buffer masked = {0};
    PyObject *plain;
    if (mask_and_normalise(arg, &masked, &plain, NULL) < 0) {
        buf_free(&masked);
        return NULL;
    }
    /* tokens can touch ("ab<cd>"), so the template may have a separator per token on top of the
     * masked text's characters, and a token has two or more; the hashes take 7 characters a token */
    char *joined = PyMem_Malloc((size_t)masked.len * 2 + 1);
    char *hashes = PyMem_Malloc((size_t)(max_tokens > 0 ? max_tokens : 0) * 7 + 1);
    PyObject *result = NULL;
    if (joined == NULL || hashes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t joined_len = 0, hashes_len = 0;
    if (join_tokens(&masked, max_tokens, joined, &joined_len, hashes, &hashes_len) < 0) {
        goto done;
    }
    result = Py_BuildValue("(Ns#s#)", plain, joined, joined_len, hashes, hashes_len);
    plain = NULL; /* the N above took it, or released it on failure */
done:
    Py_XDECREF(plain);
    PyMem_Free(joined);
    PyMem_Free(hashes);
    buf_free(&masked);
    return result;
}

/* stable_hash (blake2b, 8 bytes) of code points as UTF-8 with lone surrogates kept ("surrogatepass") */
static int utf8_hash_hex(const Ch *s, Py_ssize_t n, char *hex) {
    uint8_t small[1024] = {0}; /* (zeroed only to keep -Wmaybe-uninitialized quiet) */
    uint8_t *bytes = small;
    if (n * 4 > (Py_ssize_t)sizeof small && (bytes = PyMem_Malloc((size_t)n * 4 + 1)) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    size_t length = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Ch c = s[i];
        if (c < 0x80) {
            bytes[length++] = (uint8_t)c;
        } else if (c < 0x800) {
            bytes[length++] = (uint8_t)(0xC0 | (c >> 6));
            bytes[length++] = (uint8_t)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            bytes[length++] = (uint8_t)(0xE0 | (c >> 12));
            bytes[length++] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
            bytes[length++] = (uint8_t)(0x80 | (c & 0x3F));
        } else {
            bytes[length++] = (uint8_t)(0xF0 | (c >> 18));
            bytes[length++] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
            bytes[length++] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
            bytes[length++] = (uint8_t)(0x80 | (c & 0x3F));
        }
    }
    blake2b_hex(bytes, length, 8, hex);
    if (bytes != small) {
        PyMem_Free(bytes);
    }
    return 0;
}

/* slot_hashes(text, max_tokens) -> (stable_hash(normalise(text)), stable_hash(template), token hashes): what
 * text_signals gives, from slot_signals's three strings without building the first two */
static PyObject *slot_hashes(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "slot_hashes(text: str, max_tokens: int)");
        return NULL;
    }
    Py_ssize_t max_tokens = PyLong_AsSsize_t(args[1]);
    if (max_tokens == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Buffer masked = {0}, norm = {0};
    if (mask_and_normalise(args[0], &masked, NULL, &norm) < 0) {
        buf_free(&masked);
        buf_free(&norm);
        return NULL;
    }
    char *joined = PyMem_Malloc((size_t)masked.len * 2 + 1);
    char *hashes = PyMem_Malloc((size_t)(max_tokens > 0 ? max_tokens : 0) * 7 + 1);
    PyObject *result = NULL;
    char text_hex[16], template_hex[16];
    if (joined == NULL || hashes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t joined_len = 0, hashes_len = 0;
    if (join_tokens(&masked, max_tokens, joined, &joined_len, hashes, &hashes_len) < 0) {
        goto done;
    }
    if (utf8_hash_hex(norm.data, norm.len, text_hex) < 0) {
        goto done;
    }
    blake2b_hex((const uint8_t *)joined, (size_t)joined_len, 8, template_hex);
    result = Py_BuildValue("(s#s#s#)", text_hex, (Py_ssize_t)16, template_hex, (Py_ssize_t)16, hashes, hashes_len);
done:
    PyMem_Free(joined);
    PyMem_Free(hashes);
    buf_free(&masked);
    buf_free(&norm);
    return result;
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
/* bits[w / 64] bit w % 64: words[w] occurs in text */
static void find_words(PyObject *text, unsigned long long bits[2]) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    bits[0] = bits[1] = 0;
    if (PyUnicode_IS_ASCII(text)) {
        const unsigned char *s = PyUnicode_1BYTE_DATA(text);
        for (Py_ssize_t i = 0; i + 1 < n; i++) {
            for (int w = word_head[s[i] | (s[i + 1] << 7)]; w >= 0; w = word_next[w]) {
                if (word_length[w] <= n - i && memcmp(s + i, word_text[w], (size_t)word_length[w]) == 0) {
                    bits[w >> 6] |= 1ULL << (w & 63);
                }
            }
        }
        return;
    }
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

/* bits[0] | bits[1] << 64 as a Python int. */
static PyObject *bits_to_int(const unsigned long long bits[2]) {
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
    unsigned long long bits[2];
    find_words(text, bits);
    return bits_to_int(bits);
}

/* The gates of the last gate_mask call: for pattern p, every one of its groups must have a word. */
#define MAX_GATES 64
#define MAX_GROUPS 8
static PyObject *cached_gates = NULL;
static int n_gates;
static int gate_groups[MAX_GATES];
static unsigned long long gate_words[MAX_GATES][MAX_GROUPS][2];

static int index_gates(PyObject *gates, Py_ssize_t n_words) {
    Py_ssize_t count = PyTuple_GET_SIZE(gates);
    if (count > MAX_GATES) {
        PyErr_SetString(PyExc_ValueError, "gate_mask() takes at most 64 patterns");
        return -1;
    }
    for (Py_ssize_t p = 0; p < count; p++) {
        PyObject *groups = PyTuple_GET_ITEM(gates, p);
        if (!PyTuple_Check(groups) || PyTuple_GET_SIZE(groups) > MAX_GROUPS) {
            PyErr_SetString(PyExc_ValueError, "gate_mask() gates: a tuple of at most 8 groups per pattern");
            return -1;
        }
        gate_groups[p] = (int)PyTuple_GET_SIZE(groups);
        for (Py_ssize_t g = 0; g < PyTuple_GET_SIZE(groups); g++) {
            PyObject *group = PyTuple_GET_ITEM(groups, g);
            if (!PyTuple_Check(group)) {
                PyErr_SetString(PyExc_ValueError, "gate_mask() gates: each group a tuple of word indices");
                return -1;
            }
            gate_words[p][g][0] = gate_words[p][g][1] = 0;
            for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(group); k++) {
                long w = PyLong_AsLong(PyTuple_GET_ITEM(group, k));
                if (w == -1 && PyErr_Occurred()) {
                    return -1;
                }
                if (w < 0 || w >= n_words) {
                    PyErr_SetString(PyExc_ValueError, "gate_mask() gates: a word index out of range");
                    return -1;
                }
                gate_words[p][g][w >> 6] |= 1ULL << (w & 63);
            }
        }
    }
    Py_INCREF(gates);
    Py_XSETREF(cached_gates, gates);
    n_gates = (int)count;
    return 0;
}

/* Which gates the word bits open: bit p when every group of gates[p] has a word in ``bits``. */
static unsigned long long open_gates(const unsigned long long bits[2]) {
    unsigned long long passing = 0;
    for (int p = 0; p < n_gates; p++) {
        int open = 1;
        for (int g = 0; g < gate_groups[p] && open; g++) {
            open = ((bits[0] & gate_words[p][g][0]) | (bits[1] & gate_words[p][g][1])) != 0;
        }
        if (open) {
            passing |= 1ULL << p;
        }
    }
    return passing;
}

/* Parses (text, words, gates), indexes new words and gates, and finds the words of text. */
static int gate_args(PyObject *args, const char *format, unsigned long long bits[2]) {
    PyObject *text, *words, *gates;
    if (!PyArg_ParseTuple(args, format, &text, &PyTuple_Type, &words, &PyTuple_Type, &gates)) {
        return -1;
    }
    if (words != cached_words && index_words(words) < 0) {
        return -1;
    }
    if (gates != cached_gates && index_gates(gates, PyTuple_GET_SIZE(words)) < 0) {
        return -1;
    }
    find_words(text, bits);
    return 0;
}

/* gate_mask(text, words, gates) -> int: bit p set when every group of gates[p] (word indices) has a
 * word that occurs in text; the patterns that can match, of those detectors/prompts.py gates. */
static PyObject *gate_mask(PyObject *Py_UNUSED(module), PyObject *args) {
    unsigned long long bits[2];
    if (gate_args(args, "UO!O!:gate_mask", bits) < 0) {
        return NULL;
    }
    return PyLong_FromUnsignedLongLong(open_gates(bits));
}

/* gate_word_mask(text, words, gates) -> (gate_mask(...), word_mask(text, words)) from one pass. */
static PyObject *gate_word_mask(PyObject *Py_UNUSED(module), PyObject *args) {
    unsigned long long bits[2];
    if (gate_args(args, "UO!O!:gate_word_mask", bits) < 0) {
        return NULL;
    }
    PyObject *gates = PyLong_FromUnsignedLongLong(open_gates(bits));
    PyObject *present = gates ? bits_to_int(bits) : NULL;
    if (present == NULL) {
        Py_XDECREF(gates);
        return NULL;
    }
    PyObject *result = PyTuple_Pack(2, gates, present);
    Py_DECREF(gates);
    Py_DECREF(present);
    return result;
}

/* cues_keep(lowered, open_gates, present_low, present_high, patterns) -> prod(1 - weight) over the patterns
 * whose bit is set in open_gates and that match lowered: prompts._cues_present with its loops in C.
 * patterns[i] is (pattern.match, pattern.search, weight, starts); starts is None (search the whole
 * text) or a tuple of (literal, needs): the pattern is tried with match() wherever a
 * literal occurs whose needed word bits (16 bytes, little-endian) are all in present (present_low/high). */
/* the 128 word bits a literal needs, as 16 little-endian bytes */
static int needed_bits(PyObject *needs, uint64_t *low, uint64_t *high) {
    if (!PyBytes_CheckExact(needs) || PyBytes_GET_SIZE(needs) != 16) {
        PyErr_SetString(PyExc_TypeError, "a literal's needed word bits must be 16 bytes");
        return -1;
    }
    const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(needs);
    *low = *high = 0;
    for (int i = 7; i >= 0; i--) {
        *low = (*low << 8) | b[i];
        *high = (*high << 8) | b[8 + i];
    }
    return 0;
}

static int cue_found(PyObject *lowered, PyObject *spec, uint64_t present_low, uint64_t present_high) {
    PyObject *starts = PyTuple_GET_ITEM(spec, 3);
    if (starts == Py_None) {
        PyObject *found = PyObject_CallOneArg(PyTuple_GET_ITEM(spec, 1), lowered);
        if (found == NULL) {
            return -1;
        }
        int result = found != Py_None;
        Py_DECREF(found);
        return result;
    }
    PyObject *match = PyTuple_GET_ITEM(spec, 0);
    Py_ssize_t length = PyUnicode_GET_LENGTH(lowered);
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(starts); k++) {
        PyObject *start = PyTuple_GET_ITEM(starts, k);
        uint64_t needs_low, needs_high;
        if (needed_bits(PyTuple_GET_ITEM(start, 1), &needs_low, &needs_high) < 0) {
            return -1;
        }
        if ((present_low & needs_low) != needs_low || (present_high & needs_high) != needs_high) {
            continue;
        }
        PyObject *literal = PyTuple_GET_ITEM(start, 0);
        Py_ssize_t at = PyUnicode_Find(lowered, literal, 0, length, 1);
        while (at >= 0) {
            PyObject *position = PyLong_FromSsize_t(at);
            if (position == NULL) {
                return -1;
            }
            PyObject *call_args[2] = {lowered, position};
            PyObject *found = PyObject_Vectorcall(match, call_args, 2, NULL);
            Py_DECREF(position);
            if (found == NULL) {
                return -1;
            }
            int matched = found != Py_None;
            Py_DECREF(found);
            if (matched) {
                return 1;
            }
            at = PyUnicode_Find(lowered, literal, at + 1, length, 1);
        }
        if (at == -2) {
            return -1;
        }
    }
    return 0;
}

static PyObject *cues_keep(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5 || !PyUnicode_Check(args[0]) || !PyTuple_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError, "cues_keep(lowered, open_gates, present_low, present_high, patterns)");
        return NULL;
    }
    uint64_t open = PyLong_AsUnsignedLongLong(args[1]);
    uint64_t present_low = PyLong_AsUnsignedLongLong(args[2]);
    uint64_t present_high = PyLong_AsUnsignedLongLong(args[3]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    PyObject *patterns = args[4];
    double keep = 1.0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(patterns) && i < 64 && (open >> i) != 0; i++) {
        if (!((open >> i) & 1)) {
            continue;
        }
        PyObject *spec = PyTuple_GET_ITEM(patterns, i);
        int found = cue_found(args[0], spec, present_low, present_high);
        if (found < 0) {
            return NULL;
        }
        if (found) {
            double weight = PyFloat_AsDouble(PyTuple_GET_ITEM(spec, 2));
            if (weight == -1.0 && PyErr_Occurred()) {
                return NULL;
            }
            keep *= 1.0 - weight;
        }
    }
    return PyFloat_FromDouble(keep);
}

/* object_matches(lowered, stems, present_low, present_high, match, max_objects) -> the matches of
 * prompts._objects's loop, in its order: each stem (a tuple of (stem, needs) as cues_keep takes them) whose word
 * bits are all present, each of its occurrences that starts a word and is not a position seen before, at
 * most max_objects positions in all, and of those the ones where match(lowered, position) matches. */
static PyObject *object_matches(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6 || !PyUnicode_Check(args[0]) || !PyTuple_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "object_matches(lowered, stems, present_low, present_high, match, max)");
        return NULL;
    }
    PyObject *lowered = args[0], *stems = args[1], *match = args[4];
    uint64_t present_low = PyLong_AsUnsignedLongLong(args[2]);
    uint64_t present_high = PyLong_AsUnsignedLongLong(args[3]);
    Py_ssize_t max_objects = PyLong_AsSsize_t(args[5]);
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (max_objects > 256) {
        max_objects = 256;
    }
    Py_ssize_t seen[256];
    Py_ssize_t n_seen = 0;
    int kind = PyUnicode_KIND(lowered);
    const void *data = PyUnicode_DATA(lowered);
    Py_ssize_t length = PyUnicode_GET_LENGTH(lowered);
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(stems); k++) {
        PyObject *stem = PyTuple_GET_ITEM(stems, k);
        uint64_t needs_low, needs_high;
        if (needed_bits(PyTuple_GET_ITEM(stem, 1), &needs_low, &needs_high) < 0) {
            goto error;
        }
        if ((present_low & needs_low) != needs_low || (present_high & needs_high) != needs_high) {
            continue;
        }
        PyObject *literal = PyTuple_GET_ITEM(stem, 0);
        Py_ssize_t at = PyUnicode_Find(lowered, literal, 0, length, 1);
        while (at >= 0 && n_seen < max_objects) {
            int known = 0;
            for (Py_ssize_t i = 0; i < n_seen && !known; i++) {
                known = seen[i] == at;
            }
            if (!known && (at == 0 || !Py_UNICODE_ISALNUM(PyUnicode_READ(kind, data, at - 1)))) {
                seen[n_seen++] = at;
                PyObject *position = PyLong_FromSsize_t(at);
                if (position == NULL) {
                    goto error;
                }
                PyObject *call_args[2] = {lowered, position};
                PyObject *found = PyObject_Vectorcall(match, call_args, 2, NULL);
                Py_DECREF(position);
                if (found == NULL) {
                    goto error;
                }
                int failed = found != Py_None && PyList_Append(out, found) < 0;
                Py_DECREF(found);
                if (failed) {
                    goto error;
                }
            }
            at = PyUnicode_Find(lowered, literal, at + 1, length, 1);
        }
        if (at == -2) {
            goto error;
        }
    }
    return out;
error:
    Py_DECREF(out);
    return NULL;
}

/* joined_row(head, tail) -> head + tail, not tracked by the cyclic garbage collector when every value is a
 * str, int, float, bool or None (what the collector itself does to such a tuple the first time it looks at it;
 * ingest keeps thousands of rows alive per batch, and each young-generation pass walked all of them). */
static PyObject *joined_row(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyTuple_CheckExact(args[0]) || !PyTuple_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "joined_row(head: tuple, tail: tuple)");
        return NULL;
    }
    Py_ssize_t n_head = PyTuple_GET_SIZE(args[0]), n_tail = PyTuple_GET_SIZE(args[1]);
    PyObject *row = PyTuple_New(n_head + n_tail);
    if (row == NULL) {
        return NULL;
    }
    int atomic = 1;
    for (Py_ssize_t i = 0; i < n_head + n_tail; i++) {
        PyObject *value = i < n_head ? PyTuple_GET_ITEM(args[0], i) : PyTuple_GET_ITEM(args[1], i - n_head);
        atomic = atomic && (value == Py_None || PyUnicode_CheckExact(value) || PyLong_CheckExact(value) ||
                            PyFloat_CheckExact(value) || PyBool_Check(value));
        Py_INCREF(value);
        PyTuple_SET_ITEM(row, i, value);
    }
    if (atomic && PyObject_GC_IsTracked(row)) {
        PyObject_GC_UnTrack(row);
    }
    return row;
}

/* --- ingest: the common shape of a canonical event, checked and laid out in one call -------------
 *
 * ingest_head(event, ingested_at, normalise_ip, epoch_seconds) gives what app/ingest/service.py's
 * Python path (validate_event, then stored_row's scrubbing and read_conversation) gives for an event
 * that passes validation and needs no change, or None: then the caller takes that Python path, which
 * stays the reference (tests/ingest/test_fast_path.py compares both).  None is returned for anything
 * that is an error or is rewritten there: a wrong type, a value out of range or too long, a NUL, a
 * float in an integer field, text holding what scrub.py looks for ("sk-", "earer", "EARER"), a
 * message whose content is an array of parts, an identifier that starts with white space, and
 * whatever normalise_ip / epoch_seconds raise on.  The event is never modified.
 *
 * The result: (head, last_user_text, system_text, n_messages, n_user_turns, n_assistant_turns,
 * prompt_chars), head being the stored row's first 23 values (repository.STORED_COLUMNS order). */

enum { F_STR, F_INT, F_FLOAT, F_BOOL };
typedef struct {
    const char *name;
    int kind;
    Py_ssize_t limit; /* longest string (F_STR), -1: unbounded */
    int head;         /* position in the head tuple, -1: not stored there */
    int scrubbed;     /* passed through scrub_text (as text, or as an identity: service._identity) */
} EventField;

#define HEAD_SIZE 23
static const EventField event_fields[] = {
    {"request_id", F_STR, 200, 0, 0},    {"account_id", F_STR, 200, 1, 1},
    {"api_key_id", F_STR, 200, 4, 1},    {"org_id", F_STR, 200, 5, 0},
    {"end_user_id", F_STR, 200, 6, 1},   {"user_agent", F_STR, -1, 8, 1},
    {"tls_fingerprint", F_STR, 200, 9, 0}, {"model", F_STR, 200, 10, 0},
    {"endpoint", F_STR, 200, 11, 0},     {"conversation_id", F_STR, 200, 12, 0},
    {"max_tokens", F_INT, 0, 13, 0},     {"n", F_INT, 0, 14, 0},
    {"temperature", F_FLOAT, 0, 15, 0},  {"top_p", F_FLOAT, 0, 16, 0},
    {"stream", F_BOOL, 0, 17, 0},        {"tools", F_INT, 0, 18, 0},
    {"prompt_tokens", F_INT, 0, 19, 0},  {"completion_tokens", F_INT, 0, 20, 0},
    {"status", F_INT, 0, 21, 0},         {"latency_ms", F_FLOAT, 0, 22, 0},
    {"prompt", F_STR, -1, -1, 1},
};
#define N_EVENT_FIELDS ((int)(sizeof event_fields / sizeof event_fields[0]))
#define PROMPT_FIELD (N_EVENT_FIELDS - 1)
static PyObject *field_keys[N_EVENT_FIELDS];
static PyObject *key_ts, *key_ip, *key_messages, *key_role, *key_content;
static PyObject *role_names[6]; /* user, assistant, system, developer, tool, function */

static int intern_keys(void) {
    if (key_ts != NULL) {
        return 0;
    }
    for (int i = 0; i < N_EVENT_FIELDS; i++) {
        if ((field_keys[i] = PyUnicode_InternFromString(event_fields[i].name)) == NULL) {
            return -1;
        }
    }
    static const char *roles[6] = {"user", "assistant", "system", "developer", "tool", "function"};
    for (int i = 0; i < 6; i++) {
        if ((role_names[i] = PyUnicode_InternFromString(roles[i])) == NULL) {
            return -1;
        }
    }
    key_ip = PyUnicode_InternFromString("ip");
    key_messages = PyUnicode_InternFromString("messages");
    key_role = PyUnicode_InternFromString("role");
    key_content = PyUnicode_InternFromString("content");
    key_ts = PyUnicode_InternFromString("ts");
    return key_ts && key_ip && key_messages && key_role && key_content ? 0 : -1;
}

/* 1 when the str holds a NUL or what scrub_text looks for ("sk-", "earer", "EARER") */
static int suspect_at(int kind, const void *data, Py_ssize_t n, Py_ssize_t i, Py_UCS4 c) {
    if (c == 0) {
        return 1;
    }
    if (c == 's') {
        return i + 2 < n && PyUnicode_READ(kind, data, i + 1) == 'k' && PyUnicode_READ(kind, data, i + 2) == '-';
    }
    if (i + 4 >= n) {
        return 0;
    }
    const char *rest = c == 'E' ? "ARER" : "arer";
    for (int k = 0; k < 4; k++) {
        if (PyUnicode_READ(kind, data, i + 1 + k) != (Py_UCS4)rest[k]) {
            return 0;
        }
    }
    return 1;
}

static int suspect_text(PyObject *text) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (kind == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *s = (const Py_UCS1 *)data;
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_UCS1 c = s[i];
            if ((c == 0 || c == 's' || c == 'e' || c == 'E') && suspect_at(kind, data, n, i, c)) {
                return 1;
            }
        }
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if ((c == 0 || c == 's' || c == 'e' || c == 'E') && suspect_at(kind, data, n, i, c)) {
            return 1;
        }
    }
    return 0;
}

static int has_nul(PyObject *text) {
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (kind == PyUnicode_1BYTE_KIND) {
        return memchr(data, 0, (size_t)n) != NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyUnicode_READ(kind, data, i) == 0) {
            return 1;
        }
    }
    return 0;
}

/* the fullmatch of events._CANONICAL_IPV4: four decimal octets 0..255 without leading zeros */
static int canonical_ipv4(PyObject *text) {
    if (!PyUnicode_IS_ASCII(text)) {
        return 0;
    }
    const char *s = (const char *)PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), i = 0;
    for (int octet = 0; octet < 4; octet++) {
        if (octet > 0) {
            if (i >= n || s[i] != '.') {
                return 0;
            }
            i++;
        }
        Py_ssize_t start = i;
        int value = 0;
        while (i < n && i - start < 3 && s[i] >= '0' && s[i] <= '9') {
            value = value * 10 + (s[i] - '0');
            i++;
        }
        Py_ssize_t digits = i - start;
        if (digits == 0 || (digits > 1 && s[start] == '0') || value > 255) {
            return 0;
        }
    }
    return i == n;
}

/* float.__round__ without ndigits: half to even */
static double round_half_even(double x) {
    double rounded = round(x);
    if (fabs(x - rounded) == 0.5) {
        rounded = 2.0 * round(x / 2.0);
    }
    return rounded;
}

/* events.epoch_seconds for an int or float; returns NULL without an exception when the Python
 * function must decide (an error, or a value whose arithmetic leaves what a double holds exactly) */
static PyObject *epoch_number(PyObject *value) {
    double x;
    if (PyFloat_CheckExact(value)) {
        x = PyFloat_AS_DOUBLE(value);
    } else {
        int overflow = 0;
        long long whole = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow || (whole == -1 && PyErr_Occurred()) || whole < 0 || whole > (1LL << 53)) {
            PyErr_Clear();
            return NULL;
        }
        x = (double)whole;
    }
    if (!isfinite(x) || !(x >= 0.0 && x < 32503680000.0)) {
        return NULL;
    }
    double whole;
    double fraction = modf(x, &whole);
    long long micros = (long long)round_half_even(fraction * 1e6);
    long long total = (long long)whole * 1000000LL + micros;
    if (total < 0 || total > (1LL << 53)) {
        return NULL;
    }
    return PyFloat_FromDouble((double)total / 1000000.0);
}

/* a conversation's summary (text.read_conversation) from validated, clean messages; -1: take the Python path */
typedef struct {
    PyObject *last_user;   /* borrowed */
    PyObject *system_text; /* new reference */
    Py_ssize_t n_messages, n_user, n_assistant, chars;
} Summary;

static int read_messages(PyObject *messages, Summary *out) {
    Py_ssize_t n = PyList_GET_SIZE(messages);
    PyObject *system_parts = NULL;
    PyObject *first_system = NULL;
    Py_ssize_t n_system = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *message = PyList_GET_ITEM(messages, i);
        if (!PyDict_CheckExact(message)) {
            goto python;
        }
        PyObject *role = PyDict_GetItemWithError(message, key_role);
        PyObject *content = PyDict_GetItemWithError(message, key_content);
        if (PyErr_Occurred()) {
            goto python;
        }
        int which = -1;
        if (role != NULL && PyUnicode_CheckExact(role)) {
            for (int r = 0; r < 6; r++) {
                if (role == role_names[r] || PyUnicode_Compare(role, role_names[r]) == 0) {
                    which = r;
                    break;
                }
            }
        }
        if (which < 0) {
            goto python; /* an error: the Python path names it */
        }
        if (content == Py_None) {
            content = NULL;
        }
        if (content != NULL && !PyUnicode_CheckExact(content)) {
            goto python; /* an array of parts (or an error) */
        }
        if (content != NULL && (which == 0 || which == 2 || which == 3) && suspect_text(content)) {
            goto python; /* scrub_messages rewrites the user, system and developer turns */
        }
        Py_ssize_t length = content == NULL ? 0 : PyUnicode_GET_LENGTH(content);
        out->chars += length;
        if (which == 0) {
            out->n_user++;
            out->last_user = content;
        } else if (which == 1) {
            out->n_assistant++;
        } else if (which == 2 || which == 3) {
            PyObject *part = content == NULL ? PyUnicode_New(0, 0) : (Py_INCREF(content), content);
            if (part == NULL) {
                goto python;
            }
            if (n_system == 0) {
                first_system = part;
            } else {
                if (system_parts == NULL) {
                    if ((system_parts = PyList_New(0)) == NULL || PyList_Append(system_parts, first_system) < 0) {
                        Py_DECREF(part);
                        goto python;
                    }
                }
                int failed = PyList_Append(system_parts, part);
                Py_DECREF(part);
                if (failed < 0) {
                    goto python;
                }
            }
            n_system++;
        }
    }
    out->n_messages = n;
    if (n_system == 0) {
        out->system_text = PyUnicode_New(0, 0);
    } else if (n_system == 1) {
        out->system_text = first_system;
        first_system = NULL;
    } else {
        PyObject *newline = PyUnicode_FromString("\n");
        out->system_text = newline ? PyUnicode_Join(newline, system_parts) : NULL;
        Py_XDECREF(newline);
    }
    Py_XDECREF(first_system);
    Py_XDECREF(system_parts);
    if (out->system_text == NULL) {
        PyErr_Clear();
        return -1;
    }
    return 0;
python:
    PyErr_Clear();
    Py_XDECREF(first_system);
    Py_XDECREF(system_parts);
    return -1;
}

static PyObject *ingest_head(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "ingest_head(event, ingested_at, normalise_ip, epoch_seconds)");
        return NULL;
    }
    PyObject *event = args[0];
    if (!PyDict_CheckExact(event) || intern_keys() < 0) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    PyObject *head = PyTuple_New(HEAD_SIZE);
    if (head == NULL) {
        return NULL;
    }
    Summary summary = {NULL, NULL, 0, 0, 0, 0};
    PyObject *prompt = NULL;
    for (int i = 0; i < HEAD_SIZE; i++) {
        Py_INCREF(Py_None);
        PyTuple_SET_ITEM(head, i, Py_None);
    }
    for (int i = 0; i < N_EVENT_FIELDS; i++) {
        const EventField *field = &event_fields[i];
        PyObject *value = PyDict_GetItemWithError(event, field_keys[i]);
        if (value == NULL) {
            if (PyErr_Occurred()) {
                goto python;
            }
            continue;
        }
        if (value == Py_None) {
            continue;
        }
        switch (field->kind) {
        case F_STR:
            if (!PyUnicode_CheckExact(value) || (field->limit >= 0 && PyUnicode_GET_LENGTH(value) > field->limit)) {
                goto python;
            }
            /* a NUL is removed by validate_event; scrubbing rewrites what holds a key */
            if (field->scrubbed ? suspect_text(value) : has_nul(value)) {
                goto python;
            }
            break;
        case F_INT:
            if (!PyLong_CheckExact(value)) {
                goto python;
            } else {
                int overflow = 0;
                long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
                if (overflow || v < 0 || v > 2147483647LL) {
                    PyErr_Clear();
                    goto python;
                }
            }
            break;
        case F_FLOAT:
            if (PyFloat_CheckExact(value)) {
                if (!isfinite(PyFloat_AS_DOUBLE(value))) {
                    goto python;
                }
            } else if (PyLong_CheckExact(value)) {
                int overflow = 0;
                PyLong_AsLongLongAndOverflow(value, &overflow);
                if (overflow || PyErr_Occurred()) {
                    PyErr_Clear();
                    goto python;
                }
            } else {
                goto python;
            }
            break;
        default: /* F_BOOL */
            if (!PyBool_Check(value)) {
                goto python;
            }
        }
        if (field->head >= 0) {
            Py_INCREF(value);
            Py_SETREF(PyTuple_GET_ITEM(head, field->head), value);
        } else {
            prompt = value;
        }
    }
    /* required, and not only white space */
    for (int i = 0; i < 2; i++) {
        PyObject *value = PyTuple_GET_ITEM(head, i);
        if (value == Py_None || PyUnicode_GET_LENGTH(value) == 0
            || Py_UNICODE_ISSPACE(PyUnicode_READ_CHAR(value, 0))) {
            goto python;
        }
    }
    PyObject *ts = PyDict_GetItemWithError(event, key_ts);
    if (ts == NULL || ts == Py_None) {
        goto python;
    }
    PyObject *seconds;
    if (PyFloat_CheckExact(ts) || PyLong_CheckExact(ts)) {
        seconds = epoch_number(ts);
    } else if (PyUnicode_CheckExact(ts)) {
        seconds = PyObject_CallOneArg(args[3], ts);
    } else {
        seconds = NULL;
    }
    if (seconds == NULL || !PyFloat_CheckExact(seconds)) {
        Py_XDECREF(seconds);
        goto python;
    }
    Py_SETREF(PyTuple_GET_ITEM(head, 2), seconds);
    Py_INCREF(args[1]);
    Py_SETREF(PyTuple_GET_ITEM(head, 3), args[1]);
    PyObject *ip = PyDict_GetItemWithError(event, key_ip);
    if (ip != NULL && ip != Py_None) {
        if (!PyUnicode_CheckExact(ip)) {
            goto python;
        }
        if (PyUnicode_GET_LENGTH(ip) > 0) {
            PyObject *canonical;
            if (canonical_ipv4(ip)) {
                Py_INCREF(ip);
                canonical = ip;
            } else {
                canonical = PyObject_CallOneArg(args[2], ip);
                if (canonical == NULL || !PyUnicode_CheckExact(canonical)) {
                    Py_XDECREF(canonical);
                    goto python;
                }
            }
            Py_SETREF(PyTuple_GET_ITEM(head, 7), canonical);
        }
    } else if (PyErr_Occurred()) {
        goto python;
    }
    PyObject *messages = PyDict_GetItemWithError(event, key_messages);
    if (messages != NULL && messages != Py_None) {
        if (!PyList_CheckExact(messages)) {
            goto python;
        }
    } else if (PyErr_Occurred()) {
        goto python;
    }
    int have_prompt = prompt != NULL && PyUnicode_GET_LENGTH(prompt) > 0;
    if (messages == NULL || messages == Py_None || PyList_GET_SIZE(messages) == 0) {
        PyObject *text = have_prompt ? prompt : NULL;
        summary.last_user = text;
        summary.n_messages = summary.n_user = text != NULL;
        summary.chars = text != NULL ? PyUnicode_GET_LENGTH(text) : 0;
        if ((summary.system_text = PyUnicode_New(0, 0)) == NULL) {
            goto python;
        }
    } else {
        if (read_messages(messages, &summary) < 0) {
            goto python;
        }
        if (have_prompt) {
            if (summary.last_user == NULL || PyUnicode_GET_LENGTH(summary.last_user) == 0) {
                summary.last_user = prompt;
            }
            summary.chars += PyUnicode_GET_LENGTH(prompt);
        }
    }
    PyObject *last_user = summary.last_user;
    PyObject *empty = NULL;
    if (last_user == NULL) {
        if ((empty = PyUnicode_New(0, 0)) == NULL) {
            goto python;
        }
        last_user = empty;
    }
    PyObject *result = Py_BuildValue("(NONnnnn)", head, last_user, summary.system_text, summary.n_messages,
                                     summary.n_user, summary.n_assistant, summary.chars);
    Py_XDECREF(empty);
    return result;
python:
    PyErr_Clear();
    Py_DECREF(head);
    Py_XDECREF(summary.system_text);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"gate_mask", gate_mask, METH_VARARGS,
     "gate_mask(text, words, gates) -> int with bit p set when every word group of gates[p] occurs in text"},
    {"gate_word_mask", gate_word_mask, METH_VARARGS,
     "gate_word_mask(text, words, gates) -> (gate_mask(text, words, gates), word_mask(text, words))"},
    {"word_mask", word_mask, METH_VARARGS,
     "word_mask(text, words) -> int with bit i set when words[i] occurs in text"},
    {"slot_tokens", slot_tokens, METH_O, "slot_tokens(text) -> (normalise(text), tokens(text))"},
    {"slot_signals", slot_signals, METH_VARARGS,
     "slot_signals(text, max_tokens) -> (normalise(text), ' '.join(tokens), ' '.join(token hashes[:max_tokens]))"},
    {"token_hash", token_hash, METH_O, "token_hash(token) -> blake2b(token, digest_size=3).hexdigest()"},
    {"slot_hashes", (PyCFunction)(void (*)(void))slot_hashes, METH_FASTCALL,
     "slot_hashes(text, max_tokens) -> (stable_hash(normalise(text)), stable_hash(template), token hashes)"},
    {"cues_keep", (PyCFunction)(void (*)(void))cues_keep, METH_FASTCALL,
     "cues_keep(lowered, open_gates, present_low, present_high, patterns) -> prod(1 - w) over the matching cues"},
    {"object_matches", (PyCFunction)(void (*)(void))object_matches, METH_FASTCALL,
     "object_matches(lowered, stems, present_low, present_high, match, max_objects) -> matches of _objects's loop"},
    {"joined_row", (PyCFunction)(void (*)(void))joined_row, METH_FASTCALL,
     "joined_row(head, tail) -> head + tail, untracked by the garbage collector when it holds only atomic values"},
    {"ingest_head", (PyCFunction)(void (*)(void))ingest_head, METH_FASTCALL,
     "ingest_head(event, ingested_at, normalise_ip, epoch_seconds) -> (row head, conversation summary...) or None"},
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
