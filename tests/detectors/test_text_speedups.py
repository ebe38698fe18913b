"""The ingest speed-ups in detectors/prompts.py and detectors/text.py change no output.

Each pattern is skipped only when a word it needs is absent (each of its start literals and each
reasoning object's stem too), a reasoning object's costliest evidence is looked for only while it
can lift the best object, each slot substitution is skipped only when a character it needs is
absent, and token hashes are memoised: the references below run every
pattern and substitution unconditionally, on texts built to hit the edge cases (case folding,
non-ASCII letters that IGNORECASE maps onto ASCII, digits in other scripts).
"""

from __future__ import annotations

import random

import pytest

from detectors import prompts, text

PIECES = (
    "step by step", "Step-By-Step", "explain your reasoning", "EXPLAIN THE WORK", "walk me through the logic",
    "articulate the rationale", "chain of thought", "CoT", "think carefully", "thought process", "<think>",
    "inner monologue", "justify each step", "before answering, reason", "full derivation", "reasoning trace",
    "explain why you arrived", "grade the response", "rubric", "on a scale of 1 to 10", "7/10", "score from 1 - 5",
    "which response is better", "Response A", "assistant b", "helpfulness score", "as a judge", "reward model",
    "final verdict", "output only the score", "rate", "you must provide explanations", "always give an explanation",
    "\u017ftep by \u017ftep", "\u212anow", "\u0130 think carefully", "\u0131",  # IGNORECASE folds these onto ASCII
    "https://example.com/x?y=1", "mail me at a@b.io", '"quoted text"', "'single'", "`code`", "```py\nx=1\n```",
    "abc123def", "٣٤٥", "12,345.67", "-3", "v2", "plain words", "\n", "  ", "\t", "é", "日本語",
)  # fmt: skip


def _texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) + rng.choice(" \n.,;") for _ in range(rng.randrange(0, 14))) for _ in range(n)]


def _reference_scores(body: str) -> tuple[float, float]:
    return prompts._scores(body, True, True, gated=False) if body else (0.0, 0.0)


def _reference_mask(body: str) -> str:
    for pattern, replacement in (
        (text._CODE_BLOCK_RE, " <code> "), (text._URL_RE, " <url> "), (text._QUOTED_RE, " <quote> "),
        (text._MIXED_RE, " <num> "), (text._NUMBER_RE, " <num> "),
    ):  # fmt: skip
        body = pattern.sub(replacement, body)
    return _reference_normalise(body)


def _reference_normalise(body: str) -> str:
    return text._SPACE_RE.sub(" ", body.strip().lower())


def test_gated_scores_equal_running_every_pattern() -> None:
    for body in _texts(3000, seed=11):
        assert (prompts.cot_score(body), prompts.rubric_score(body)) == _reference_scores(body), body
    for user, system in zip(_texts(1000, seed=15), _texts(1000, seed=16), strict=True):
        both = f"{system}\n{user}" if system else user
        assert prompts.prompt_scores(user, system) == _reference_scores(both)


def test_anchor_and_completeness_tried_at_their_start_literals_find_what_a_search_finds() -> None:
    words = (
        "answer", "answered", "respond", "response", "reply", "replies", "conclusion", "verdict", "result", "final",
        "solution", "decision", "along the way", "as you go", "as you solve", "then give", "before\n stating",
        "afterwards output", "followed by", "step by step", "step-by-step", "each step", "every single stage",
        "all intermediate parts", "any thought", "in full", "fully", "thoroughly", "completely", "detailed",
        "in detail", "exhaustively", "explicit", "granular", "sequentially", "meticulous", "entire", "numbered",
        "logical", "intermediate", "exactly", "precisely", "at length", "verbatim", "piece by piece", "line by line",
        "one step at a time", "leaving nothing", "omit no detail", "skipping no steps", "without skipping",
        "don't skip", "do not omit", "never leave out", "all of your", "all the", "chain of", "small", "anyone",
        "someone", "thenceforth", "xanswer", "\u00e9tape", "_final", "final_", "r\u00e9sult",
    )  # fmt: skip
    rng = random.Random(21)
    for _ in range(4000):
        body = "".join(rng.choice(words) + rng.choice(("", " ", "  ", ".", ",", "\n", "x", "_", "\u00e9"))
                       for _ in range(rng.randrange(0, 9)))  # fmt: skip
        expected = min(2, sum(1 for _ in prompts._COMPLETE.finditer(body)))
        assert prompts._complete_count(body) == expected, body
        start, end = rng.randrange(0, len(body) + 1), rng.randrange(0, len(body) + 30)
        expected_anchor = prompts._ANCHOR.search(body, start, end) is not None
        assert prompts._found_from(prompts._ANCHOR, prompts._ANCHOR_STARTS, body, start, end) == expected_anchor


def test_cue_loops_in_c_equal_the_python_loops() -> None:
    rng = random.Random(31)
    kinds = ((prompts._COT_SPECS, prompts._COT_NEEDING), (prompts._RUBRIC_SPECS, prompts._RUBRIC_NEEDING))
    for body in _texts(2000, seed=32):
        lowered = body.lower()
        _, present = prompts._gate_word_mask(lowered, prompts._WORD_TUPLE, prompts._GATES)
        for specs, needing in kinds:
            for gates in ((1 << len(needing)) - 1, rng.randrange(1 << len(needing))):
                expected = prompts._cues_present(needing, lowered, gates, present)
                assert prompts._cues_keep(lowered, gates, present & prompts._LOW64, present >> 64, specs) == expected


@pytest.mark.skipif(prompts._object_matches is None, reason="detectors._textfast is not built: no C loop to compare")
def test_object_search_in_c_equals_the_python_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    def python_loop(lowered: str, present: int) -> list[tuple[int, int, str | None]]:
        out, seen = [], set[int]()
        for stem, needs in prompts._STEM_NEEDS:
            if present & needs != needs:
                continue
            at = lowered.find(stem)
            while at >= 0 and len(seen) < prompts._MAX_OBJECTS:
                if at not in seen and (at == 0 or not lowered[at - 1].isalnum()):
                    seen.add(at)
                    found = prompts._OBJECT.match(lowered, at)
                    if found is not None:
                        out.append((found.start(), found.end(), found.lastgroup))
                at = lowered.find(stem, at + 1)
        return out

    bodies = [*_texts(2000, seed=33), "reasoning " * 40, "\u00e9reasoning \u0663steps x\U0001f600thought process"]
    scores = []
    for body in bodies:
        lowered = body.lower()
        _, present = prompts._gate_word_mask(lowered, prompts._WORD_TUPLE, prompts._GATES)
        low, high = present & prompts._LOW64, present >> 64
        found = prompts._object_matches(lowered, prompts._STEM_SPECS, low, high, prompts._OBJECT.match, 24)
        assert [(m.start(), m.end(), m.lastgroup) for m in found] == python_loop(lowered, present), body
        scores.append(prompts._objects(lowered, present))
    monkeypatch.setattr(prompts, "_object_matches", None)
    for body, score in zip(bodies, scores, strict=True):
        lowered = body.lower()
        assert (
            prompts._objects(lowered, prompts._gate_word_mask(lowered, prompts._WORD_TUPLE, prompts._GATES)[1]) == score
        )


def test_gated_slot_masking_equals_running_every_substitution() -> None:
    for body in _texts(3000, seed=12):
        assert text.mask_slots(body) == _reference_mask(body), body


def test_normalise_splits_on_exactly_what_backslash_s_matches() -> None:
    spaces = "".join(chr(c) for c in range(0x3100) if chr(c).isspace()) + "\u3000\ufeff\u200b"
    rng = random.Random(13)
    for body in _texts(500, seed=14):
        noisy = "".join(ch + (rng.choice(spaces) if rng.random() < 0.2 else "") for ch in body)
        assert text.normalise(noisy) == _reference_normalise(noisy)


def test_memoised_token_hashes_equal_fresh_ones() -> None:
    for token in ("explain", "<num>", "don't", "explain"):
        assert text.token_hash(token) == text.stable_hash(token, nbytes=3)
    for body in _texts(500, seed=17):
        if not body.strip():
            continue
        toks = text._TOKEN_RE.findall(_reference_mask(body))
        expected = " ".join(text.stable_hash(t, nbytes=3) for t in toks[: text.MAX_TOKENS_KEPT])
        assert text.text_signals(body)["token_hashes"] == expected
        assert text.text_signals(body)["template_hash"] == text.stable_hash(" ".join(toks))


def test_patterns_tried_where_their_matches_start_find_what_a_search_finds() -> None:
    phrases = (
        "show your reasoning", "explain all of the steps", "walk me through the logic", "lay out every derivation",
        "write out  the thinking", "detail\teach of your work", "articulate the rationale", "spell out your thought",
        "make explicit internal", "complete reasoning", "exhaustive trace", "explain your answer",
        "must give an explanation", "always include the explanations", "explain it in simple steps",
        "break the task into small parts", "split it into logical steps", "decompose x into individual pieces",
        "grade the response", "rate this essay", "generate an answer", "judge:", "which of the two responses is better",
        "compare them: the answer was better", "response a", "assistant b", "responsea", "xrate the answer",
    )  # fmt: skip
    rng = random.Random(17)
    texts = _texts(3000, seed=18)
    texts += ["".join(rng.choice([*phrases, *PIECES]) + rng.choice(" \n.,;") for _ in range(rng.randrange(1, 8)))
              for _ in range(3000)]  # fmt: skip
    for patterns in (prompts._COT, prompts._RUBRIC):
        for lower_case, _weight, starts in patterns:
            if starts is None:
                continue
            for body in texts:
                lowered = body.lower()
                assert prompts._found(lower_case, lowered, starts) == (lower_case.search(lowered) is not None), (
                    lower_case.pattern,
                    body,
                )


def test_start_literals_skipped_by_their_words_find_what_a_search_finds() -> None:
    texts = _texts(2000, seed=20)
    for patterns in (prompts._COT_NEEDING, prompts._RUBRIC_NEEDING):
        for pattern, _weight, starts in patterns:
            for body in texts:
                lowered = body.lower()
                present = prompts._automaton_words(lowered)
                expected = pattern.search(lowered) is not None
                assert prompts._found_present(pattern, lowered, starts, present) == expected, (pattern.pattern, body)


def test_object_weight_over_a_best_is_the_weight_or_no_more_than_the_best() -> None:
    bests = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
    for body in _texts(3000, seed=21):
        lowered = body.lower()
        for found in prompts._OBJECT.finditer(lowered):
            weight = prompts._object_weight(lowered, found)
            for best in bests:
                over = prompts._object_weight_over(lowered, found, best)
                assert over == weight if weight > best else over <= best, (body, found.group(), best)
