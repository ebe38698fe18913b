"""Does a request ask the model to show its reasoning, or to grade an answer?

Weighted pattern sets, not a learned model: each pattern is a phrasing seen in
chain-of-thought elicitation or in reward-model style prompts, with a weight saying how
specific it is ("step by step" alone is what every benchmark runner writes; "articulate
the reasoning behind" almost never appears in ordinary use).  The score is
``1 - prod(1 - w)`` over the patterns that match, so it stays in [0, 1] and several weak
cues add up.  System prompts count: campaigns often put the elicitation there.
"""

from __future__ import annotations

import re

import ahocorasick

try:  # built by `pip install -e .`; _open_gates_reference below is its reference
    from detectors._textfast import gate_mask as _gate_mask
except ImportError:  # pragma: no cover - a build without a C compiler: every text takes the automaton

    def _gate_mask(text: str, words: tuple[str, ...], gates: _Gates, /) -> int:
        return _open_gates_reference(text)  # built from the same words and gates


_COT_PATTERNS: tuple[tuple[str, float], ...] = (
    (r"step[- ]by[- ]step", 0.35),
    (
        r"(show|explain|walk me through|lay out|write out|detail)\s+(all\s+|each\s+of\s+)?(your|the|every)\s+"
        r"(reasoning|thought|thinking|work|steps|logic|derivation)",
        0.55,
    ),
    (
        r"(articulate|verbalize|verbalise|spell out|make explicit)\s+(the\s+|your\s+)?"
        r"(reasoning|rationale|thought|logic|internal)",
        0.8,
    ),
    (r"(reasoning|rationale|logic)\s+(behind|for|that led)", 0.45),
    (r"chain[- ]of[- ]thought|\bcot\b", 0.7),
    (r"think (through|aloud|out loud|carefully)|thinking process|thought process", 0.45),
    (r"inner monologue|scratchpad|<think>|internal (reasoning|deliberation)", 0.7),
    (r"justify (each|every|your) (step|answer|choice)", 0.5),
    (r"before (giving|answering|you answer).{0,40}(reason|explain|think)", 0.5),
    (r"(full|complete|detailed|explicit|exhaustive)\s+(reasoning|derivation|rationale|trace)", 0.55),
    (r"explain (why|how) you (arrived|got|reached|came)", 0.5),
    (r"reasoning (trace|steps|chain)", 0.6),
    # explanation tuning: the answer must come with the working that produced it
    (
        r"explain (your|the) (answer|solution|steps|choice|approach)|(always|must) (provide|give|include) "
        r"(an |the )?explanations?",
        0.45,
    ),
    (r"(explain|show|describe) how you (used|solved|derived|applied|worked|came up)", 0.5),
    (
        r"explain (it )?in (simple |small |clear |easy )?steps|(break|split|decompose) .{0,40}into "
        r"(small|smaller|simple|individual|logical) (parts|steps|pieces)",
        0.4,
    ),
    (r"explain why (the )?(other|remaining|wrong|incorrect) (answers?|options?|choices?)", 0.45),
    # the same requests in other words: all of the working, made explicit, intermediate results, a format
    # that has a place for the reasoning
    (
        r"(show|give|include|provide|present|display)\s+(me\s+)?(all|each|every)\s+(of\s+)?(your|the)\s+"
        r"(reasoning|thinking|thoughts|work|working|steps|calculations?|derivations?)",
        0.55,
    ),
    (
        r"(make|keep)\s+(all\s+)?(your|the)\s+(reasoning|thinking|thought process|logic|steps)\s+"
        r"(explicit|visible|transparent)",
        0.6,
    ),
    (r"intermediate\s+(steps?|reasoning|results|calculations?|conclusions)", 0.5),
    (
        r"(break|split|decompose|divide)\s.{0,40}?\b(into|in)\s+(\w+\s+)?(steps|parts|pieces|sub-?problems|"
        r"sub-?tasks|stages)\b",
        0.35,
    ),
    (
        r"numbered (steps|list of steps)|from first principles|show (your|the) work(ing)?\b|"
        r"explaining (why|each|your)|justify (each|every|all)\b|(reason|argue|derive) (it )?(carefully|rigorously|"
        r"from scratch)",
        0.4,
    ),
    (
        r"<(thinking|reasoning|scratchpad)>|#+\s*(reasoning|thought process|derivation)\b|"
        r"[\"'](reasoning|rationale|chain_of_thought)[\"']\s*:",
        0.6,
    ),
)

_RUBRIC_PATTERNS: tuple[tuple[str, float], ...] = (
    (r"\b(grade|score|rate|evaluate|assess|judge)\b.{0,60}\b(response|answer|completion|output|essay|solution)", 0.45),
    (r"\brubric\b", 0.6),
    (r"on a scale (of|from) \d+ (to|-) \d+|score (of|from) \d+ (to|-) \d+|\b\d+\s*/\s*10\b", 0.4),
    (r"(which|compare).{0,40}(response|answer|completion) (is|was) better|response [ab]\b|assistant [ab]\b", 0.6),
    (r"(criteria|criterion|helpfulness|harmlessness|factual accuracy).{0,80}(score|rating|grade)", 0.5),
    (r"(preference|reward) (label|model|score)|as a (judge|grader|reward model)", 0.7),
    (r"output (only )?(the |a )?(score|rating|grade)|final (score|grade|verdict)", 0.5),
)

# What each pattern needs before it can match: every group must have one of its words in the
# lower-cased text.  A pattern is run only on a text that passes (ingest runs these on every
# request).  Exact for every text free of the four non-ASCII letters that IGNORECASE folds onto
# ASCII; texts with one of them run every pattern as written.
_Needs = tuple[tuple[str, ...], ...]
_Gates = tuple[tuple[tuple[int, ...], ...], ...]
_COT_NEEDS: tuple[_Needs, ...] = (
    (("step",),),
    (
        ("show", "explain", "walk me through", "lay out", "write out", "detail"),
        ("reason", "thought", "think", "work", "step", "logic", "derivation"),
    ),
    (("reason", "rationale", "thought", "logic", "internal"),),
    (("reason", "rationale", "logic"),),
    (("thought", "cot"),),
    (("think through", "think aloud", "think out loud", "think carefully", "thinking process", "thought process"),),
    (("monologue", "scratchpad", "<think>", "internal"),),
    (("justify ",),),
    (("before ",),),
    (("reason", "derivation", "rationale", "trace"),),
    (("explain why you", "explain how you"),),
    (("reasoning ",),),
    (("explain", "explanation"),),
    (("explain", "show", "describe"), ("how you",)),
    (("explain", "break", "split", "decompose"), ("step", "part", "piece")),
    (("explain why",),),
    (
        ("show", "give", "include", "provide", "present", "display"),
        ("all", "each", "every"),
        ("reason", "think", "thought", "work", "step", "calculation", "derivation"),
    ),
    (("make", "keep"), ("reason", "think", "thought", "logic", "step"), ("explicit", "visible", "transparent")),
    (("intermediate",),),
    (("break", "split", "decompose", "divide"), ("step", "part", "piece", "problem", "task", "stage")),
    (("numbered", "first principles", "work", "explaining", "justify ", "carefully", "rigorously", "from scratch"),),
    (
        (
            "<thinking>",
            "<reasoning>",
            "<scratchpad>",
            "reasoning",
            "thought process",
            "derivation",
            "rationale",
            "chain_of_thought",
        ),
    ),
)
_RUBRIC_NEEDS: tuple[_Needs, ...] = (
    (
        ("grade", "score", "rate", "evaluate", "assess", "judge"),
        ("response", "answer", "completion", "output", "essay", "solution"),
    ),
    (("rubric",),),
    (("on a scale", "score of", "score from", "10"),),
    (("better", "response a", "response b", "assistant a", "assistant b"),),
    (("score", "rating", "grade"),),
    (("preference", "reward", "judge", "grader"),),
    (("score", "rating", "grade", "verdict"),),
)
# the characters that IGNORECASE matches with ASCII letters besides the ASCII letters themselves
_FOLDS_TO_ASCII = re.compile("[\u0130\u0131\u017f\u212a]")

# Which of the words every pattern needs occur in a text: one Aho-Corasick pass over the lower-cased
# text reports every occurrence, overlapping ones included, as a bit per word.
_WORDS = sorted({word for needs in (*_COT_NEEDS, *_RUBRIC_NEEDS) for group in needs for word in group})
_WORD_BIT = {word: 1 << i for i, word in enumerate(_WORDS)}
_FINDER = ahocorasick.Automaton()
for _word, _bit in _WORD_BIT.items():
    _FINDER.add_word(_word, _bit)
_FINDER.make_automaton()
_WORD_TUPLE = tuple(_WORDS)
# the needs of every pattern, _COT's then _RUBRIC's, as indices into _WORD_TUPLE
_GATES: _Gates = tuple(
    tuple(tuple(_WORDS.index(word) for word in group) for group in need) for need in (*_COT_NEEDS, *_RUBRIC_NEEDS)
)

# Where a match can begin, for the patterns that run often and seldom match: every match of the
# pattern starts with one of these literals (its leading alternation), so trying the pattern
# anchored at each of their occurrences finds a match exactly when a search would, without
# running the pattern at every other position of a long prompt.
_COT_STARTS: dict[int, tuple[str, ...]] = {
    1: ("show", "explain", "walk me through", "lay out", "write out", "detail"),
    2: ("articulate", "verbalize", "verbalise", "spell out", "make explicit"),
    9: ("full", "complete", "detailed", "explicit", "exhaustive"),
    12: ("explain ", "always ", "must "),
    14: ("explain ", "break ", "split ", "decompose "),
}
_RUBRIC_STARTS: dict[int, tuple[str, ...]] = {
    0: ("grade", "score", "rate", "evaluate", "assess", "judge"),
    3: ("which", "compare", "response ", "assistant "),
}

# (pattern for any text, the same pattern case-sensitive for the lower-cased text, weight, the bit
# mask of each word group, where its matches start or None).  On a text free of the four
# characters above, IGNORECASE is exactly lower-casing: the patterns' literals are lower-case
# ASCII, and for every other code point str.lower() gives one character, never an ASCII one from
# a non-ASCII one, in the same \w, \s and \d classes (tests/detectors/test_textfast.py checks every
# code point).  The case-sensitive pattern runs 2-20x faster.
_Patterns = list[tuple[re.Pattern[str], re.Pattern[str], float, tuple[int, ...], tuple[str, ...] | None]]


def _compile(
    patterns: tuple[tuple[str, float], ...], needs: tuple[_Needs, ...], starts: dict[int, tuple[str, ...]]
) -> _Patterns:
    return [
        (re.compile(pattern, re.I | re.S), re.compile(pattern, re.S), weight,
         tuple(sum(_WORD_BIT[word] for word in group) for group in need), starts.get(i))
        for i, ((pattern, weight), need) in enumerate(zip(patterns, needs, strict=True))
    ]  # fmt: skip


_COT = _compile(_COT_PATTERNS, _COT_NEEDS, _COT_STARTS)
_RUBRIC = _compile(_RUBRIC_PATTERNS, _RUBRIC_NEEDS, _RUBRIC_STARTS)


def _found(pattern: re.Pattern[str], lowered: str, starts: tuple[str, ...] | None) -> bool:
    """``pattern.search(lowered) is not None``; with ``starts``, tried only where a match can begin."""
    if starts is None:
        return pattern.search(lowered) is not None
    find, match = lowered.find, pattern.match
    for start in starts:
        at = find(start)
        while at >= 0:
            if match(lowered, at) is not None:  # \b and lookbehinds still see lowered[at - 1]
                return True
            at = find(start, at + 1)
    return False


def _automaton_words(lowered: str) -> int:
    present = 0
    for _end, bit in _FINDER.iter(lowered):
        present |= bit
    return present


def _open_gates_reference(lowered: str) -> int:
    """Bit p: every word group pattern p of ``_COT + _RUBRIC`` needs has a word in ``lowered``."""
    present = _automaton_words(lowered)
    open_gates = 0
    for p, (_any_case, _lower_case, _weight, groups, _starts) in enumerate((*_COT, *_RUBRIC)):
        if all(present & group for group in groups):
            open_gates |= 1 << p
    return open_gates


def _score(patterns: _Patterns, first: int, text: str, lowered: str | None, open_gates: int) -> float:
    """1 - prod(1 - w) over the patterns that match; ``open_gates`` bit ``first + i``: pattern i may."""
    keep = 1.0
    if lowered is None:
        for any_case, _lower_case, weight, _groups, _starts in patterns:
            if any_case.search(text) is not None:
                keep *= 1.0 - weight
        return round(1.0 - keep, 4)
    candidates = (open_gates >> first) & ((1 << len(patterns)) - 1)
    while candidates:  # lowest bit first: the patterns' own order, so the product rounds the same
        lowest = candidates & -candidates
        _any_case, lower_case, weight, _groups, starts = patterns[lowest.bit_length() - 1]
        if _found(lower_case, lowered, starts):
            keep *= 1.0 - weight
        candidates ^= lowest
    return round(1.0 - keep, 4)


def _lowered(text: str) -> str | None:
    return text.lower() if text.isascii() or not _FOLDS_TO_ASCII.search(text) else None


def _both(text: str) -> tuple[str | None, int]:
    lowered = _lowered(text)
    return lowered, (_gate_mask(lowered, _WORD_TUPLE, _GATES) if lowered is not None else 0)


def prompt_scores(user_text: str, system_text: str = "") -> tuple[float, float]:
    """``(cot_score, rubric_score)`` in one pass over the text (what ingest computes for every request)."""
    text = f"{system_text}\n{user_text}" if system_text else user_text
    if not text:
        return 0.0, 0.0
    lowered, open_gates = _both(text)
    return _score(_COT, 0, text, lowered, open_gates), _score(_RUBRIC, len(_COT), text, lowered, open_gates)


def cot_score(user_text: str, system_text: str = "") -> float:
    """How strongly the request elicits a written-out chain of thought, in [0, 1]."""
    text = f"{system_text}\n{user_text}" if system_text else user_text
    return _score(_COT, 0, text, *_both(text)) if text else 0.0


def rubric_score(user_text: str, system_text: str = "") -> float:
    """How strongly the request uses the model as a grader / reward model, in [0, 1]."""
    text = f"{system_text}\n{user_text}" if system_text else user_text
    return _score(_RUBRIC, len(_COT), text, *_both(text)) if text else 0.0
