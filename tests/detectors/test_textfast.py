"""The C fast paths (detectors/_textfast.c) give exactly what the Python code of detectors/ gives.

The Python functions are the reference: every text below goes through both, on texts built to hit
each regex's edge cases (greedy e-mail backtracking, quotes at the 200-character limit, code fences
without an end, every ASCII whitespace and control character) and Unicode's (letters, digits and
spaces outside ASCII, characters whose lower case is longer, characters beyond the BMP).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator

from detectors import _textfast, prompts, text

PIECES = (
    "http://", "https://", "https:// ", "http://x", "```", "```py\nx = 1\n```", "a@b.c", "x@y.z@w", "a@b.c,d@e.f",
    "..", "@@", "@.", "user@host", "x1", "1x", "v2.0", "12,345.67", "-3", "+4", "don't", "'", '"', "`", "<num>",
    "<abc>", "<", ">", "<a1>", "Step By Step", "EXPLAIN", "\n", "\r\n", "\t", "\x0b", "\x0c", "\x1c", "\x1f", "\x00",
    "  ", "_", "__init__", "a_1", "plain words here", "https://example.com/a?b=1", "mail me at a@b.io",
)  # fmt: skip
ALPHABET = "abZ9_@.:/\"'`\n\t -+,h<>"
UNICODE = (
    "\u00e9", "\u00c9T\u00c9", "\u65e5\u672c\u8a9e", "\u0663\u0664\u0665", "\u00b2", "\u216b", "\u00a0", "\u2028",
    "\u3000", "\u200b", "\u0085", "\u00df", "\u0130", "\u03a3\u0391\u03a3", "\u201cquoted\u201d", "don\u2019t",
    "\U0001f600", "\u017ftep", "\u212anow", "x\u0663", "a@\u00e9.\u00e9", "https://\u00e9", "\uff11\uff12", "\u0660",
)  # fmt: skip


def _reference(body: str) -> tuple[str, list[str]]:
    return text.normalise(body), text._TOKEN_RE.findall(text.mask_slots(body))


def _texts(n: int, seed: int, *, unicode: bool = False) -> list[str]:
    rng = random.Random(seed)
    every_ascii = [chr(c) for c in range(128)]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randrange(0, 40)):
            roll = rng.random()
            pool = PIECES if roll < 0.4 else ALPHABET if roll < 0.75 else every_ascii
            parts.append(rng.choice(UNICODE if unicode and roll >= 0.9 else pool))
        out.append("".join(parts))
    return out


def test_fast_path_equals_the_python_reference() -> None:
    for body in _texts(30000, seed=21):
        assert _textfast.slot_tokens(body) == _reference(body), repr(body)
    for body in _texts(20000, seed=24, unicode=True):
        assert _textfast.slot_tokens(body) == _reference(body), repr(body)


def test_quotes_around_the_200_character_limit() -> None:
    for length in range(197, 204):
        for quote in "\"'`":
            for body in (
                f"{quote}{'x' * length}{quote} tail",
                f"a{quote}{'y' * length}{quote}",
                f"{quote}{'z' * length}",
            ):
                assert _textfast.slot_tokens(body) == _reference(body), repr(body)


def test_long_runs_unterminated_fences_and_touching_tokens() -> None:
    bodies = ["```" + "a" * 5000, "```\n" + "b1 " * 2000 + "\n", "@" * 3000 + "a.b", "x" * 4000 + "@y.z", "a.b" * 999]
    bodies += ["ab<cd>" * 3000, "<a><b>" * 3000, "ab'" * 3000]  # tokens that touch: more template than text
    for body in bodies:
        assert _textfast.slot_tokens(body) == _reference(body)
        normalised, toks = _reference(body)
        hashes = " ".join(text.token_hash(t) for t in toks)
        assert _textfast.slot_signals(body, 10**6) == (normalised, " ".join(toks), hashes)


def test_every_space_digit_and_letter_class_outside_ascii() -> None:
    for code in range(0x80, 0x3100):
        char = chr(code)
        if char.isspace() or char.isalnum() or char.isdecimal():
            for body in (f"a{char}b", f"x1{char}", f"{char}2 y", f"q@r{char}.s", f"'{char}'"):
                assert _textfast.slot_tokens(body) == _reference(body), repr(body)


def test_token_hashes_equal_hashlib() -> None:
    rng = random.Random(25)
    letters = "abcdefghijklmnopqrstuvwxyz'<>"
    tokens = ["".join(rng.choice(letters) for _ in range(length)) for length in range(300)]
    tokens += ["".join(rng.choice(letters) for _ in range(rng.randrange(1, 30))) for _ in range(20000)]
    for token in tokens + tokens:  # the second round comes from the table of recent tokens (or its collisions)
        assert _textfast.token_hash(token) == hashlib.blake2b(token.encode(), digest_size=3).hexdigest(), token


def test_slot_signals_join_the_tokens_and_their_hashes() -> None:
    for body in _texts(5000, seed=26, unicode=True):
        normalised, toks = _reference(body)
        for keep in (0, 1, 48):
            expected = (normalised, " ".join(toks), " ".join(text.token_hash(t) for t in toks[:keep]))
            assert _textfast.slot_signals(body, keep) == expected, repr(body)


def test_text_signals_use_the_fast_path_without_changing_them() -> None:
    for body in _texts(2000, seed=22, unicode=True):
        if not body.strip():
            continue
        normalised, toks = _reference(body)
        signals = text.text_signals(body)
        assert signals["text_hash"] == text.stable_hash(normalised)
        assert signals["template_hash"] == text.stable_hash(" ".join(toks))
        assert signals["token_hashes"] == " ".join(text.token_hash(t) for t in toks[: text.MAX_TOKENS_KEPT])


def test_slot_hashes_hash_what_slot_signals_give() -> None:
    """The C hashes of the normalised text and the template (UTF-8, lone surrogates passed) equal stable_hash."""
    long_texts = ["\u65e5 step " * 300, "x" * 5000, "\ud800 lone \udfff surrogates", "\U0001f600" * 400, ""]
    for body in [*_texts(3000, seed=27, unicode=True), *long_texts]:
        for keep in (0, 48):
            normalised, template, hashes = _textfast.slot_signals(body, keep)
            expected = (text.stable_hash(normalised), text.stable_hash(template), hashes)
            assert _textfast.slot_hashes(body, keep) == expected, repr(body)


def test_word_mask_equals_the_aho_corasick_pass() -> None:
    words = prompts._WORD_TUPLE
    assert len(words) > 64  # the mask needs both halves of the C bit set
    pieces = [*words, *PIECES, "explanation", "10/10", "reasoning", "think carefully "]
    rng = random.Random(23)
    for _ in range(5000):
        body = "".join(rng.choice(pieces) + rng.choice(" .\n") for _ in range(rng.randrange(0, 12))).lower()
        assert _textfast.word_mask(body, words) == prompts._automaton_words(body), repr(body)
        wide = "".join(rng.choice([*pieces, *UNICODE]) for _ in range(rng.randrange(0, 12))).lower()
        assert _textfast.word_mask(wide, words) == prompts._automaton_words(wide), repr(wide)
    assert _textfast.word_mask("".join(words), words) == (1 << len(words)) - 1
    assert _textfast.word_mask("\U0001f600".join(words), words) == (1 << len(words)) - 1


def _gate_bodies(seed: int) -> Iterator[str]:
    """5,000 lower-cased texts of gate words, other pieces and Unicode, in random order."""
    pieces = [*prompts._WORD_TUPLE, *PIECES, *UNICODE, "explanation", "10/10", "reasoning", "think carefully "]
    rng = random.Random(seed)
    for _ in range(5000):
        yield "".join(rng.choice(pieces) + rng.choice(" .\n") for _ in range(rng.randrange(0, 12))).lower()


def test_gate_mask_equals_the_python_gates() -> None:
    words, gates = prompts._WORD_TUPLE, prompts._GATES
    for body in _gate_bodies(27):
        assert _textfast.gate_mask(body, words, gates) == prompts._open_gates_reference(body), repr(body)
    assert _textfast.gate_mask(" ".join(words), words, gates) == (1 << len(gates)) - 1


def test_lower_casing_is_ignorecase_outside_the_four_folding_characters() -> None:
    """What lets prompts.py run its patterns case-sensitively on the lower-cased text."""
    folds = set("\u0130\u0131\u017f\u212a")
    classes = [re.compile(r"\w"), re.compile(r"\s"), re.compile(r"\d")]
    any_ascii = re.compile(r"[\x00-\x7f]", re.IGNORECASE)
    for code in range(0x110000):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF or char in folds:
            continue
        lower = char.lower()
        assert len(lower) == 1, hex(code)
        assert (code < 128) == (ord(lower) < 128), hex(code)
        assert [bool(c.match(char)) for c in classes] == [bool(c.match(lower)) for c in classes], hex(code)
        if code >= 128:
            assert any_ascii.match(char) is None, hex(code)


def test_gate_word_mask_equals_the_python_gates_and_words() -> None:
    words, gates = prompts._WORD_TUPLE, prompts._GATES
    for body in _gate_bodies(28):
        expected = prompts._gates_and_words_reference(body)
        assert _textfast.gate_word_mask(body, words, gates) == expected, repr(body)
        assert expected == (prompts._open_gates_reference(body), prompts._automaton_words(body))
    assert _textfast.gate_word_mask(" ".join(words), words, gates) == ((1 << len(gates)) - 1, (1 << len(words)) - 1)
