"""The C fast path of detectors/text.py (detectors/_textfast.c) gives exactly what the Python code gives.

The Python functions are the reference: every ASCII text below goes through both, on texts built
to hit each regex's edge cases (greedy e-mail backtracking, quotes at the 200-character limit, code
fences without an end, every ASCII whitespace and control character).
"""

from __future__ import annotations

import random

from detectors import _textfast, prompts, text

PIECES = (
    "http://", "https://", "https:// ", "http://x", "```", "```py\nx = 1\n```", "a@b.c", "x@y.z@w", "a@b.c,d@e.f",
    "..", "@@", "@.", "user@host", "x1", "1x", "v2.0", "12,345.67", "-3", "+4", "don't", "'", '"', "`", "<num>",
    "<abc>", "<", ">", "<a1>", "Step By Step", "EXPLAIN", "\n", "\r\n", "\t", "\x0b", "\x0c", "\x1c", "\x1f", "\x00",
    "  ", "_", "__init__", "a_1", "plain words here", "https://example.com/a?b=1", "mail me at a@b.io",
)  # fmt: skip
ALPHABET = "abZ9_@.:/\"'`\n\t -+,h<>"


def _reference(body: str) -> tuple[str, list[str]]:
    return text.normalise(body), text._TOKEN_RE.findall(text.mask_slots(body))


def _texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    every_ascii = [chr(c) for c in range(128)]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randrange(0, 40)):
            roll = rng.random()
            parts.append(rng.choice(PIECES) if roll < 0.4 else rng.choice(ALPHABET) if roll < 0.8
                         else rng.choice(every_ascii))  # fmt: skip
        out.append("".join(parts))
    return out


def test_fast_path_equals_the_python_reference_on_ascii_text() -> None:
    for body in _texts(30000, seed=21):
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


def test_long_runs_and_unterminated_fences() -> None:
    for body in (
        "```" + "a" * 5000,
        "```\n" + "b1 " * 2000 + "\n",
        "@" * 3000 + "a.b",
        "x" * 4000 + "@y.z",
        "a.b" * 999,
    ):
        assert _textfast.slot_tokens(body) == _reference(body)


def test_non_ascii_text_is_left_to_python() -> None:
    assert _textfast.slot_tokens("caf\u00e9 step by step") is None
    assert _textfast.slot_tokens("\u212anow") is None


def test_text_signals_use_the_fast_path_without_changing_them() -> None:
    for body in _texts(2000, seed=22):
        if not body.strip():
            continue
        normalised, toks = _reference(body)
        signals = text.text_signals(body)
        assert signals["text_hash"] == text.stable_hash(normalised)
        assert signals["template_hash"] == text.stable_hash(" ".join(toks))
        assert signals["token_hashes"] == " ".join(text.token_hash(t) for t in toks[: text.MAX_TOKENS_KEPT])


def _automaton_words(lowered: str) -> int:
    present = 0
    for _end, bit in prompts._FINDER.iter(lowered):
        present |= bit
    return present


def test_word_mask_equals_the_aho_corasick_pass() -> None:
    words = prompts._WORD_TUPLE
    assert len(words) > 64  # the mask needs both halves of the C bit set
    pieces = [*words, *PIECES, "explanation", "10/10", "reasoning", "think carefully "]
    rng = random.Random(23)
    for _ in range(5000):
        body = "".join(rng.choice(pieces) + rng.choice(" .\n") for _ in range(rng.randrange(0, 12))).lower()
        assert _textfast.word_mask(body, words) == _automaton_words(body), repr(body)
    assert _textfast.word_mask("".join(words), words) == (1 << len(words)) - 1
    assert _textfast.word_mask("caf\u00e9 step", words) is None
