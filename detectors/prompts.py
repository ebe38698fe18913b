"""Does a request ask the model to show its reasoning, or to grade an answer?

Compositional rules, not a list of phrasings.  A chain-of-thought request is a disclosure act
(show, explain, walk through, lay out, narrate, spell out, write out, output, include, reveal, make
… visible) applied, within one clause, to a reasoning object (reasoning, rationale, logic, thought
process, derivation, inference, working, steps, how you arrived …), made stronger when the object is
the model's own ("your reasoning", "the steps you took"), tied to the answer ("before the final
answer", "along the way") and asked for in full ("step by step", "every step", "in full",
"leaving nothing out").  An object alone is a mention, and a disclosure act about a topic ("explain
the reasoning behind the court's ruling", "list the steps to change a tyre") stays below the
counting threshold (0.5), as does bare "think step by step": benchmark runners write it too.  A
grading request is an act of judging (grade, score, rate, evaluate, rank, compare …) applied to a
response (answer, completion, output, reply, essay …), made stronger by a scale, criteria, a
demanded score or verdict, a pairwise choice or a judge's role.

Each piece of evidence has a weight and the score is ``1 - prod(1 - w)`` over the pieces found, so
it stays in [0, 1]; the evidence around one reasoning object adds up first (act + ownership +
completeness), and the best object of the text counts as one piece.  System prompts count:
campaigns often put the elicitation there.
"""

from __future__ import annotations

import re
from typing import Any

import ahocorasick

try:  # built by `pip install -e .`; _gates_and_words_reference below is its reference
    from detectors._textfast import gate_word_mask as _gate_word_mask
except ImportError:  # pragma: no cover - a build without a C compiler: every text takes the automaton

    def _gate_word_mask(text: str, words: tuple[str, ...], gates: _Gates, /) -> tuple[int, int]:
        return _gates_and_words_reference(text)  # built from the same words and gates


try:  # the loops of _cues_present in C (same patterns, same order, same float products)
    from detectors._textfast import cues_keep as _cues_keep
except ImportError:  # pragma: no cover - a build without a C compiler

    def _cues_keep(lowered: str, open_gates: int, low: int, high: int, specs: tuple[Any, ...], /) -> float:
        patterns = _COT_NEEDING if specs is _COT_SPECS else _RUBRIC_NEEDING
        return _cues_present(patterns, lowered, open_gates, low | high << 64)


try:  # the search loop of _objects in C; without it, that loop runs
    from detectors._textfast import object_matches as _c_object_matches

    _object_matches: Any = _c_object_matches
except ImportError:  # pragma: no cover - a build without a C compiler
    _object_matches = None

# What a pattern needs before it can match: every group must have one of its words in the lower-cased
# text.  A pattern is run only on a text that passes (ingest runs these on every request).
_Needs = tuple[tuple[str, ...], ...]
_Gates = tuple[tuple[tuple[int, ...], ...], ...]

# --- chain of thought: reasoning objects and what surrounds them in their clause ----------------------

# A reasoning object, matched where one of _OBJECT_STEMS begins a word.  ``own``: the object is the
# model's own by its wording ("how you got there"); ``strong``: names the reasoning itself; ``specific``:
# a step of reasoning (derivation, inference); ``medium``: a reasoning word that also names a topic's
# reasoning ("the logic of the plot"); ``weak``: steps,
# work and calculations, which are as often a procedure's or a task's.
_OBJECT = re.compile(
    r"(?:(?P<own>how (?:you|you've|you have|you'd) (?:arriv|got|get|reach|came|come|deriv|solv|figur|decid|"
    r"determin|conclud|approach|thought|think|reason|comput|calculat|did|end|land|deduc|infer|pick|chose|used"
    r"|use|using|appl|found|find|obtain|chose|came up)\w*"
    r"|how (?:you|you've|you have) (?:worked|work) (?:it |this |that )?out"
    r"|why you (?:chose|choose|picked|pick|select|decid|think|thought|believ|answer|conclud|reject|went)\w*)"
    r"|(?P<strong>(?:thought|thinking|reasoning|decision[- ]making) process(?:es)?|reasoning (?:trace|chain|steps?)"
    r"|chain[- ]of[- ](?:thoughts?|reasoning|logic|inferences?|deductions?)|train of thought"
    r"|line of (?:reasoning|thought|logic|argument)|(?:inner|internal) (?:monologue|reasoning|thoughts?|deliberations?"
    r"|dialogue)|scratch ?(?:work|pad)|deliberations?)"
    r"|(?P<specific>justifications?|derivations?|deductions?|inferences?)"
    r"|(?P<medium>reasoning|rationale|thoughts|thinking|logic|workings|monologue)"
    r"|(?P<weak>steps|calculations?|computations?|thought|reasons|analysis"
    r"|(?:(?<=your )|(?<=the )|(?<=all )|(?<=its )|(?<=show )|(?<=complete )|(?<=full )|(?<=detailed )"
    r"|(?<=entire )|(?<=rough )|(?<=written ))work(?:ing)?(?!\s+(?:on|with|out|through|as|for|to|towards|done|hard"
    r"|of|at)\b)))\b"
)
_OBJECT_STEMS = (
    "how you", "why you", "thought", "thinking", "reason", "decision", "chain", "train of", "line of", "inner",
    "internal", "monologue", "scratch", "deliberation", "rationale", "justification", "derivation", "deduction",
    "inference", "logic", "work", "steps", "calculation", "computation", "analysis",
)  # fmt: skip
_OBJECT_WEIGHT = {"own": 0.35, "strong": 0.35, "specific": 0.25, "medium": 0.2, "weak": 0.1}

# a disclosure act before the object in its clause.  Verbs in the forms of a request (show, shows,
# showing), not the participles that are mostly adjectives ("the provided text", "given").
_DOUBLED = {"put": "putt", "set": "sett", "log": "logg", "wrap": "wrapp", "dump": "dump"}


def _forms(phrase: str) -> str:
    verb, _, rest = phrase.partition(" ")
    stem = _DOUBLED.get(verb, verb[:-1] if verb.endswith("e") and not verb.endswith("ee") else verb)
    third = (
        f"{verb[:-1]}ies"
        if verb.endswith("y") and verb[-2] not in "aeiou"
        else f"{verb}es"
        if verb.endswith(("s", "sh", "ch", "x", "o"))
        else f"{verb}s"
    )
    ing = f"{stem}ing" if not verb.endswith("y") else f"{verb}ing"
    rest = rest.replace("through", "(?:me |us |you )?through")
    return f"(?:{verb}|{third}|{ing})" + (f" {rest}" if rest else "")


# acts that are about disclosing reasoning whatever they apply to
_STRONG_ACTS = (
    "articulate", "verbalize", "verbalise", "vocalize", "narrate", "spell out", "unpack", "expose", "reveal",
    "externalize", "externalise", "think aloud", "lay bare",
)  # fmt: skip
_PLAIN_ACTS = (
    "talk through", "show", "explain", "walk through", "go through",
    "lay out", "set out", "write out", "write down", "type out", "trace", "document", "describe", "detail", "outline",
    "record", "log", "enumerate", "list", "print", "display", "output", "dump", "expand on", "elaborate", "recount",
    "demonstrate", "note", "put", "wrap", "present", "justify", "report", "share", "surface", "go over",
)  # fmt: skip
_WEAK_ACTS = (
    "give", "provide", "include", "respond with", "reply with", "start with", "begin with", "add", "attach",
    "return", "write", "produce", "offer", "generate", "contain", "keep",
)  # fmt: skip
_ACTS = re.compile(
    r"\b(?:(?P<strong>"
    + "|".join(_forms(act) for act in _STRONG_ACTS)
    + r"|laid bare|think\w* out loud)|(?P<plain>"
    + "|".join(_forms(act) for act in _PLAIN_ACTS)
    + r"|make\w* (?:\w+ ){1,4}(?:explicit|visible|transparent)|laid out|(?:let me|want to|like to|need to"
    r"|wish to) (?:see|read)|talk\w* (?:me |us )?through)"
    r"|(?P<weak>" + "|".join(_forms(act) for act in _WEAK_ACTS) + r")"
    r"|(?P<noun>explanation|breakdown|account|walk-?through|write-?up|description|narration|transcript|record"
    r"|commentary))\b"
)
_ACT_WEIGHT = {"strong": 0.35, "plain": 0.25, "weak": 0.15, "noun": 0.2}
# made visible after the fact: "with your reasoning shown", "keep the logic explicit"
_VISIBLE = re.compile(
    r"\b(?:explicit|visible|transparent|in writing|on paper|aloud|out loud|shown|spelled out|written out|laid out"
    r"|on display)\b"
)
# the object is the model's own: a possessive just before it, or "… you took / you used" after it
_OWN_BEFORE = re.compile(r"\b(?:your|yours|its|own|the model's|the assistant's)\b")
_OWN_AFTER = re.compile(
    r"\b(?:your|yours|its own)\b|\b(?:you|you've|you'll|you have)\s+(?:\w+ly\s+)?(?:make|made|take|took|use|used"
    r"|follow|followed|draw|drew|do|did|went|go|reach|reached|arrive|arrived|pick|picked|chose|choose|consider"
    r"|considered|perform|performed|apply|applied|carry|carried|form|formed|went through|go through|employ|employed"
    r"|rely|relied|apply|need|needed|reject|rejected|weigh|weighed)\b"
)
# the reasoning is tied to the answer the model is about to give
_ANCHOR = re.compile(
    r"\b(?:answer\w*|respond\w*|response|repl(?:y|ies|ying)|conclu\w+|verdict|result|final|solution|decision"
    r"|along the way|as you (?:go|work|solve|proceed)|(?:then|afterwards|before)\s+(?:giv|stat|writ|provid|output"
    r"|commit)\w*|followed by)\b"
)
# all of it, at the finest grain
_COMPLETE = re.compile(
    r"step[- ]by[- ]step|\b(?:each|every|all|any) (?:single |individual |intermediate |logical )?(?:step|stage|move|"
    r"inference|deduction|thought|calculation|assumption|decision|part)s?\b|\bin full\b"
    r"|\b(?:fully|full|thorough(?:ly)?|complete(?:ly)?|detailed|in detail|exhaustive(?:ly)?|explicit(?:ly)?|granular"
    r"|sequential(?:ly)?|meticulous(?:ly)?"
    r"|entire|numbered|logical|intermediate|exactly|precisely|at length|verbatim|piece by piece|line by line)\b"
    r"|one (?:step|line|piece) at a time|\b(?:leav\w*|omit\w*|skip\w*) (?:nothing|no \w+)|without (?:skipping|omitting"
    r"|leaving)|(?:don't|do not|never) (?:skip|omit|leave out)|\ball (?:of )?(?:your|the|its)\b|\bchain of\b"
)
# a topic's reasoning, not the model's: "the logic of this function", "the steps to reset a router"
_TOPIC = re.compile(
    r"\s+(?:of|behind|for|to|in|on|about|involved|required|needed|used by|that led to|leading to)\s+(?!(?:your|its|the"
    r" (?:answer|response|solution|conclusion|result|final|problem|question|task)|an? answer|this answer|each|every|all"
    r"|any)\b)"
)
_BOUNDARY = re.compile(r"[.!?;\n]")
_MAX_OBJECTS = 24  # occurrences weighed per text; long prompts repeat words, never the evidence

# Standalone cues, each with its weight: one piece of evidence each, whatever the clause.
_COT_PATTERNS: tuple[tuple[str, float], ...] = (
    (r"step[- ]by[- ]step", 0.3),  # what every benchmark runner writes: never enough on its own
    (r"chain[- ]of[- ]thought|\bcot\b", 0.5),
    (
        r"\b(?:think|reason|walk|talk|work|deliberat|narrat)\w*\s+(?:\w+\s+){0,4}?(?:aloud|out loud|in writing"
        r"|on paper)\b",
        0.55,
    ),
    (
        r"<\s*/?\s*(?:think|thinking|thoughts?|reasoning|scratchpad|analysis|rationale|cot|deliberation)\s*>"
        r"|#+\s*(?:reasoning|thought process|derivation|rationale|thinking|working)\b"
        r"|[\"'](?:reasoning|rationale|chain_of_thought|chain-of-thought|thoughts|thinking|scratchpad)[\"']"
        r"\s*(?::|,|and\b|field|key|property|section|tag)",
        0.5,
    ),
    (r"\bjustify(?:ing)?\s+(?:each|every|all|your|its)\b", 0.45),
    # explanation tuning: the answer must come with the working that produced it
    (
        r"\b(?:always|must)\s+(?:provide|give|include)\s+(?:an |the )?explanations?|\bexplain why (?:the )?(?:other"
        r"|remaining|wrong|incorrect) (?:answers?|options?|choices?)"
        r"|\bexplain (?:it )?in (?:simple |small |clear |easy )?steps"
        r"|\b(?:explain|defend) (?:your|its) (?:final )?(?:answer|solution|choice|selection|decision"
        r"|classification|prediction|label|pick)",
        0.45,
    ),
    (
        r"\b(?:break|split|decompose|divide)\s.{0,40}?\b(?:into|in)\s+(?:\w+\s+)?(?:steps|parts|pieces|sub-?problems"
        r"|sub-?tasks|stages)\b|\bnumbered steps\b|\bfrom first principles\b|\bone step at a time\b"
        r"|\b(?:think|reason)\w* (?:it |this |things )?(?:through|carefully|rigorously|thoroughly)",
        0.35,
    ),
    (r"\bexplaining (?:why|each|every|your|its|the reasoning)\b", 0.4),
    (r"\bintermediate\s+(?:steps?|reasoning|results?|calculations?|conclusions?|values)", 0.5),
)
# fmt: off
_COT_NEEDS: tuple[_Needs, ...] = (
    (("step",),),
    (("chain", "cot"),),
    (("think", "reason", "walk", "talk", "work", "deliberat", "narrat"),
     ("aloud", "out loud", "in writing", "on paper")),
    (("think", "thought", "reason", "scratchpad", "analysis", "rationale", "cot", "deliberation", "derivation",
      "working", "chain"),),
    (("justify",),),
    (("explain", "explanation"),),
    (("break", "split", "decompose", "divide", "numbered", "first principles", "step", "think", "reason"),),
    (("explaining",),),
    (("intermediate",),),
)
# fmt: on

# --- grading -----------------------------------------------------------------------------------------

_RESPONSE = (
    r"(?:responses?|answers?|repl(?:y|ies)|completions?|outputs?|generations?|candidates?|submissions?|essays?"
    r"|solutions?|summar(?:y|ies)|translations?|(?:generated|following|given|model's|assistant's) text)"
)
_RUBRIC_PATTERNS: tuple[tuple[str, float], ...] = (
    # an act of judging applied to a response, in one clause
    (
        r"\b(?:grad(?:e|es|ed|ing)|scor(?:e|es|ed|ing)|rat(?:e|es|ed|ing)|evaluat\w*|assess\w*|judg\w*|rank(?:s|ed|ing)?"
        r"|mark(?:s|ed|ing)?|critiqu\w*|review\w*|compar\w*|check\w*)\b(?!\s+(?:is|was|are|were|of|has|had|for)\b)"
        r"[^.!?\n]{0,60}?\b" + _RESPONSE + r"\b"
        r"|\b" + _RESPONSE + r"\b[^.!?\n]{0,40}?\b(?:grad(?:e|ed)|scor(?:e|ed)|rat(?:e|ed)|evaluated|assessed|judged"
        r"|ranked)\b",
        0.4,
    ),
    # a scale
    (
        r"\bon an? [\w-]+(?: [\w-]+)? scale\b|\bscale (?:of|from)\b|\bfrom -?\d+ (?:to|-) \d+\b|\b\d+\s*(?:-|to)\s*\d+ "
        r"(?:likert |point )?scale\b|\bout of \d+\b|\b\d+\s*/\s*(?:5|10|100)\b|\b(?:\d+|three|five|seven|ten|hundred)"
        r"[- ]point\b|\blikert\b|\b(?:score|rating|grade|number|integer) (?:between|from) -?\d",
        0.25,
    ),
    # criteria
    (
        r"\brubrics?\b|\bcriteri(?:a|on)\b|\bmarking scheme\b|\bscoring (?:guide|guidelines|rules)\b"
        r"|\b(?:helpfulness|harmlessness|honesty|factuality|factual accuracy|coherence|fluency|relevance|adequacy"
        r"|faithfulness|correctness|groundedness|conciseness)\b",
        0.2,
    ),
    # a score, grade or verdict demanded as the output
    (
        r"\b(?:output|return|give|respond with|reply with|print|provide|assign|award|state|produce)\s+(?:only\s+)?"
        r"(?:it\s+)?(?:(?:the|a|an|your|one)\s+)?(?:(?:final|overall|single|integer|numeric|numerical|scalar|quality"
        r"|preference)\s+)*(?:score|rating|grade|verdict|reward|points|judg(?:e)?ment)\b"
        r"|\bfinal (?:score|grade|verdict|rating|judg(?:e)?ment)\b|\[\[[a-z0-9]{1,8}\]\]|\bverdict\s*:|\bscore\s*:",
        0.35,
    ),
    # a pairwise preference
    (
        r"\bwhich (?:one |of (?:the|these|those|both) (?:two |following )?)?"
        + _RESPONSE
        + r"\b[^.!?\n]{0,40}?\b(?:better|best|more|prefer\w*)\b"
        r"|\b(?:better|best|preferred) (?:one|" + _RESPONSE + r")\b"
        r"|\b(?:response|assistant|answer|output|completion|model|candidate|summary) [ab12]\b\W{0,3}(?:or|vs\.?|versus"
        r"|and)\b|\bprefer\w*\b[^.!?\n]{0,40}?\b" + _RESPONSE + r"\b|\b(?:from )?best to worst\b|\bworst to best\b"
        r"|\bpreference (?:judg|label|data|between)",
        0.5,
    ),
    # the role of judge or reward model
    (
        r"\bas an? (?:impartial |fair |strict |expert |neutral |objective |careful )?(?:judge|grader|evaluator|rater"
        r"|annotator|critic|reward model|referee)\b|\byou are an? (?:\w+ ){0,2}(?:judge|grader|evaluator|rater"
        r"|annotator|reward model)\b|\breward model\b|\b(?:scalar|preference) (?:reward|label|score)",
        0.55,
    ),
)
# fmt: off
_RUBRIC_NEEDS: tuple[_Needs, ...] = (
    (
        ("grad", "scor", "rat", "evaluat", "assess", "judg", "rank", "mark", "critiqu", "review", "compar", "check"),
        ("respons", "answer", "repl", "completion", "output", "generat", "candidate", "submission", "essay",
         "solution", "summar", "translation", " text"),
    ),
    (("scale", "from", "out of", "/1", "/5", "/ 1", "/ 5", "point", "likert", "between"),),
    (("rubric", "criteri", "marking", "scoring", "ness", "factual", "relevance", "adequacy", "fluency", "coherence"),),
    (
        ("score", "rating", "grade", "verdict", "reward", "points", "judg", "[["),
        ("output", "return", "give", "respond", "reply", "print", "provide", "assign", "award", "state", "produc",
         "final", "[[", "verdict", "score"),
    ),
    (("which", "prefer", "best to", "worst to", " a or", " a,", " a and", " a vs", " 1 or", " 1,", " 1 and", " 1 vs"),),
    (("judge", "grader", "evaluator", "rater", "annotator", "critic", "reward", "referee", "preference", "scalar"),),
)
# fmt: on

# --- gates: which patterns can match a text, from one pass over it -----------------------------------

# The object analysis runs when a reasoning object's word occurs: gate 0.  Then the cues, then grading.
_OBJECT_GATE = 0
_GATED_NEEDS: tuple[_Needs, ...] = ((_OBJECT_STEMS,), *_COT_NEEDS, *_RUBRIC_NEEDS)
_FIRST_COT, _FIRST_RUBRIC = 1, 1 + len(_COT_NEEDS)

# Which of the words every pattern needs occur in a text: one Aho-Corasick pass over the lower-cased
# text reports every occurrence, overlapping ones included, as a bit per word.
# A word that contains another is replaced by the shorter one (a wider gate, never a narrower one):
# the C pass takes at most 128 words.
_ALL_WORDS = {word for needs in _GATED_NEEDS for group in needs for word in group}
_SHORTEST = {word: min((w for w in _ALL_WORDS if w in word), key=len) for word in _ALL_WORDS}
_GATED_NEEDS = tuple(
    tuple(tuple(sorted({_SHORTEST[word] for word in group})) for group in needs) for needs in _GATED_NEEDS
)
_WORDS = sorted({word for needs in _GATED_NEEDS for group in needs for word in group})
_WORD_BIT = {word: 1 << i for i, word in enumerate(_WORDS)}
_FINDER = ahocorasick.Automaton()
for _word, _bit in _WORD_BIT.items():
    _FINDER.add_word(_word, _bit)
_FINDER.make_automaton()
_WORD_TUPLE = tuple(_WORDS)
# the needs of every gated pattern, as indices into _WORD_TUPLE
_GATES: _Gates = tuple(tuple(tuple(_WORDS.index(word) for word in group) for group in need) for need in _GATED_NEEDS)
_GROUP_BITS = tuple(tuple(sum(_WORD_BIT[word] for word in group) for group in need) for need in _GATED_NEEDS)


def _automaton_words(lowered: str) -> int:
    present = 0
    for _end, bit in _FINDER.iter(lowered):
        present |= bit
    return present


def _open_gates_reference(lowered: str) -> int:
    """Bit p: every word group gate p needs has a word in ``lowered`` (the C extension's gate_mask)."""
    return _gates_and_words_reference(lowered)[0]


def _gates_and_words_reference(lowered: str) -> tuple[int, int]:
    """``(_open_gates_reference(lowered), _automaton_words(lowered))`` (the C extension's gate_word_mask)."""
    present = _automaton_words(lowered)
    open_gates = 0
    for p, groups in enumerate(_GROUP_BITS):
        if all(present & group for group in groups):
            open_gates |= 1 << p
    return open_gates, present


def _needed_bits(literal: str) -> int:
    """The bits of the gate words inside ``literal``: all of them occur in any text that contains it."""
    return sum(bit for word, bit in _WORD_BIT.items() if word in literal)


# each object stem with the words it contains: a stem whose words are absent is not looked for
_STEM_NEEDS = tuple((stem, _needed_bits(stem)) for stem in _OBJECT_STEMS)
_BEST_OBJECT = 0.95  # what _object_weight returns at most: no later object can beat it


# Where a match can begin, for the patterns that run often and seldom match: every match starts with
# one of these literals, so trying the pattern anchored at each of their occurrences finds a match
# exactly when a search would, without running it at every other position of a long prompt.
_COT_STARTS: dict[int, tuple[str, ...]] = {
    0: ("step",),
    1: ("chain", "cot"),
    2: ("think", "reason", "walk", "talk", "work", "deliberat", "narrat"),
    3: ("<", "#", '"', "'"),
    4: ("justify",),
    5: ("always", "must", "explain", "defend"),
    6: ("break", "split", "decompose", "divide", "numbered", "from first", "one step", "think", "reason"),
    7: ("explaining",),
    8: ("intermediate",),
}
_RUBRIC_STARTS: dict[int, tuple[str, ...]] = {
    0: ("grad", "scor", "rat", "evaluat", "assess", "judg", "rank", "mark", "critiqu", "review", "compar", "check",
        "respons", "answer", "repl", "completion", "output", "generat", "candidate", "submission", "essay",
        "solution", "summar", "translation", "following", "given", "model's", "assistant's"),
    3: ("output", "return", "give", "respond", "reply", "print", "provide", "assign", "award", "state", "produc",
        "final", "[[", "verdict", "score"),
    4: ("which", "better", "best", "preferred", "response", "assistant", "answer", "output", "completion", "model",
        "candidate", "summary", "prefer", "worst"),
    5: ("as a", "you are", "reward model", "scalar", "preference"),
}  # fmt: skip
# grading's modifiers: a scale or criteria say nothing until something in the text asks for a grade
_RUBRIC_MODIFIERS = 0b110
_Patterns = list[tuple[re.Pattern[str], float, tuple[str, ...] | None]]
# the start literals of each pattern with the gate words each contains (see _needed_bits)
_Starts = tuple[tuple[str, int], ...] | None


def _compile(patterns: tuple[tuple[str, float], ...], starts: dict[int, tuple[str, ...]]) -> _Patterns:
    return [(re.compile(pattern, re.S), weight, starts.get(i)) for i, (pattern, weight) in enumerate(patterns)]


def _with_needs(patterns: _Patterns) -> list[tuple[re.Pattern[str], float, _Starts]]:
    return [
        (pattern, weight, None if starts is None else tuple((start, _needed_bits(start)) for start in starts))
        for pattern, weight, starts in patterns
    ]


_COT = _compile(_COT_PATTERNS, _COT_STARTS)
_RUBRIC = _compile(_RUBRIC_PATTERNS, _RUBRIC_STARTS)
_COT_NEEDING, _RUBRIC_NEEDING = _with_needs(_COT), _with_needs(_RUBRIC)

# the same patterns as cues_keep takes them: bound match and search, and each start's word bits as 16 bytes
_LOW64 = (1 << 64) - 1


def _specs(patterns: list[tuple[re.Pattern[str], float, _Starts]]) -> tuple[Any, ...]:
    return tuple(
        (pattern.match, pattern.search, weight,
         None if starts is None else tuple((start, needs.to_bytes(16, "little")) for start, needs in starts))
        for pattern, weight, starts in patterns
    )  # fmt: skip


_COT_SPECS, _RUBRIC_SPECS = _specs(_COT_NEEDING), _specs(_RUBRIC_NEEDING)
_STEM_SPECS = tuple((stem, needs.to_bytes(16, "little")) for stem, needs in _STEM_NEEDS)
assert len(_WORDS) <= 128  # the C word bits (gate_word_mask, cues_keep) hold 128


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


def _found_present(pattern: re.Pattern[str], lowered: str, starts: _Starts, present: int) -> bool:
    """``_found``, skipping the starts whose gate words are not all in ``present`` (absent from ``lowered``)."""
    if starts is None:
        return pattern.search(lowered) is not None
    find, match = lowered.find, pattern.match
    for start, needs in starts:
        if present & needs != needs:
            continue
        at = find(start)
        while at >= 0:
            if match(lowered, at) is not None:
                return True
            at = find(start, at + 1)
    return False


def _cues(patterns: _Patterns, lowered: str, open_gates: int, gated: bool = True) -> float:
    """prod(1 - w) over the patterns whose gate is open (bit i of ``open_gates``) and that match."""
    keep = 1.0
    while open_gates:  # lowest bit first: the patterns' own order, so the product rounds the same
        lowest = open_gates & -open_gates
        pattern, weight, starts = patterns[lowest.bit_length() - 1]
        if _found(pattern, lowered, starts if gated else None):
            keep *= 1.0 - weight
        open_gates ^= lowest
    return keep


def _cues_present(
    patterns: list[tuple[re.Pattern[str], float, _Starts]], lowered: str, open_gates: int, present: int
) -> float:
    """``_cues`` (gated), each pattern tried only at the starts whose words are in ``present``."""
    keep = 1.0
    while open_gates:
        lowest = open_gates & -open_gates
        pattern, weight, starts = patterns[lowest.bit_length() - 1]
        if _found_present(pattern, lowered, starts, present):
            keep *= 1.0 - weight
        open_gates ^= lowest
    return keep


def _clause(lowered: str, found: re.Match[str]) -> tuple[str, str, float, bool, float]:
    """The clause around one reasoning object: (text left of it, text right of it, the act's weight, whether the
    reasoning is the model's own, the weight before anchor, completeness and topic are counted)."""
    at, end, kind = found.start(), found.end(), found.lastgroup or "weak"
    left = lowered[max(0, at - 90) : at]
    left = left[max(left.rfind("."), left.rfind("!"), left.rfind("?"), left.rfind(";"), left.rfind("\n")) + 1 :]
    right = lowered[end : end + 70]
    stop = _BOUNDARY.search(right)
    if stop is not None:
        right = right[: stop.start()]
    act_found = _ACTS.search(left)
    act = _ACT_WEIGHT[act_found.lastgroup or "weak"] if act_found is not None else 0.0
    if act < 0.25 and (_VISIBLE.search(right) is not None or _VISIBLE.search(left) is not None):
        act = 0.25
    own = kind == "own" or _OWN_BEFORE.search(left, max(0, len(left) - 30)) is not None
    own = own or _OWN_AFTER.search(right) is not None
    return left, right, act, own, _OBJECT_WEIGHT[kind] + act + (0.2 if own else 0.0)


def _object_weight(lowered: str, found: re.Match[str]) -> float:
    """How strongly the clause around one reasoning object asks for it to be written out."""
    at, end = found.start(), found.end()
    left, right, act, own, weight = _clause(lowered, found)
    if _ANCHOR.search(lowered, max(0, at - 120), end + 120) is not None:
        weight += 0.1
    clause = f"{left}{found.group()}{right}"
    weight += 0.1 * min(2, sum(1 for _ in _COMPLETE.finditer(clause)))
    if not own and _TOPIC.match(right) is not None:
        weight -= 0.15
    if act == 0.0:  # a mention: "don't skip any steps in your reasoning" at most
        return min(weight, 0.4 if own else 0.2)
    return max(0.0, min(weight, 0.95))


# Where a match of _ANCHOR or _COMPLETE can begin: every alternative of each starts with one of these
# literals, so trying the pattern only where one occurs finds the matches a search finds (the
# literals' own search skips the other positions in C).  The ungated reference searches as before.
_ANCHOR_STARTS = re.compile(
    "answer|respon|repl|conclu|verdict|result|final|solution|decision|along the way|as you |then|afterwards|before"
    "|followed by"
)
_COMPLETE_STARTS = re.compile(
    "step|each|every|all|any|in full|full|thorough|complete|detailed|in detail|exhaustive|explicit|granular"
    "|sequential|meticulous|entire|numbered|logical|intermediate|exactly|precisely|at length|verbatim"
    "|piece by piece|line by line|one |leav|omit|skip|without |don't|do not|never|chain of"
)


def _found_from(pattern: re.Pattern[str], starts: re.Pattern[str], text: str, pos: int, endpos: int) -> bool:
    """``pattern.search(text, pos, endpos) is not None``, tried only where one of ``starts`` occurs."""
    find, match = starts.search, pattern.match
    while (start := find(text, pos, endpos)) is not None:
        at = start.start()
        if match(text, at, endpos) is not None:
            return True
        pos = at + 1
    return False


def _complete_count(clause: str) -> int:
    """``min(2, len(_COMPLETE.findall(clause)))``: matches taken left to right, tried only at _COMPLETE_STARTS."""
    count = pos = 0
    find, match = _COMPLETE_STARTS.search, _COMPLETE.match
    while count < 2 and (start := find(clause, pos)) is not None:
        found = match(clause, start.start())
        if found is None:
            pos = start.start() + 1
        else:
            count += 1
            pos = found.end()  # a match is never empty
    return count


def _object_weight_over(lowered: str, found: re.Match[str], best: float) -> float:
    """``_object_weight(lowered, found)`` when that is above ``best``, else at most ``best``.

    The costliest evidence (the anchor, then completeness) is looked for only while it can lift the
    weight above ``best``: it adds at most 0.1 and 0.2, the topic only takes away, and float addition,
    ``min`` and ``max`` are monotonic, so the bound below is never under the weight it stands for.
    """
    at, end = found.start(), found.end()
    left, right, act, own, weight = _clause(lowered, found)
    cap = (0.4 if own else 0.2) if act == 0.0 else 0.95
    if min(weight + 0.1 + 0.2, cap) <= best:  # best >= 0, so max(0.0, ...) below changes nothing
        return best
    if _found_from(_ANCHOR, _ANCHOR_STARTS, lowered, max(0, at - 120), end + 120):
        weight += 0.1
    if min(weight + 0.2, cap) <= best:
        return best
    weight += 0.1 * _complete_count(f"{left}{found.group()}{right}")
    if not own and _TOPIC.match(right) is not None:
        weight -= 0.15
    if act == 0.0:
        return min(weight, cap)
    return max(0.0, min(weight, 0.95))


def _objects(lowered: str, present: int = -1) -> float:
    """The best clause around a reasoning object in ``lowered``, 0 when there is none.

    A stem whose gate words are not all in ``present`` (absent from ``lowered``) has no occurrence to
    look for, and once an object weighs the most any can, the rest cannot change the best.  The C
    extension finds the objects (``_object_matches``: the loop below, in the same order).
    """
    if _object_matches is not None and present >= 0:
        best = 0.0
        for found in _object_matches(lowered, _STEM_SPECS, present & _LOW64, present >> 64, _OBJECT.match,
                                     _MAX_OBJECTS):  # fmt: skip
            best = max(best, _object_weight_over(lowered, found, best))
            if best >= _BEST_OBJECT:
                return best
        return best
    best, seen, find = 0.0, set[int](), lowered.find
    for stem, needs in _STEM_NEEDS:
        if present & needs != needs:
            continue
        at = find(stem)
        while at >= 0 and len(seen) < _MAX_OBJECTS:
            if at not in seen and (at == 0 or not lowered[at - 1].isalnum()):
                seen.add(at)
                found = _OBJECT.match(lowered, at)
                if found is not None:
                    best = max(best, _object_weight_over(lowered, found, best))
                    if best >= _BEST_OBJECT:
                        return best
            at = find(stem, at + 1)
    return best


def _scores(text: str, cot: bool, rubric: bool, *, gated: bool = True) -> tuple[float, float]:
    """Both scores; ``gated=False`` runs every pattern over the whole text (the reference of the gates)."""
    lowered = text.lower()
    if not gated:
        return _reference_scores(lowered, cot, rubric)
    open_gates, present = _gate_word_mask(lowered, _WORD_TUPLE, _GATES)
    low, high = present & _LOW64, present >> 64
    cot_value = rubric_value = 0.0
    if cot:
        keep = _cues_keep(lowered, (open_gates >> _FIRST_COT) & _ALL_COT, low, high, _COT_SPECS)
        if open_gates & (1 << _OBJECT_GATE):
            keep *= 1.0 - _objects(lowered, present)
        cot_value = round(1.0 - keep, 4)
    if rubric:
        gates = (open_gates >> _FIRST_RUBRIC) & _ALL_RUBRIC
        keep = _cues_keep(lowered, gates & ~_RUBRIC_MODIFIERS, low, high, _RUBRIC_SPECS)
        if keep < 1.0:
            keep *= _cues_keep(lowered, gates & _RUBRIC_MODIFIERS, low, high, _RUBRIC_SPECS)
        rubric_value = round(1.0 - keep, 4)
    return cot_value, rubric_value


_ALL_COT, _ALL_RUBRIC = (1 << len(_COT)) - 1, (1 << len(_RUBRIC)) - 1


def _reference_scores(lowered: str, cot: bool, rubric: bool) -> tuple[float, float]:
    """Every pattern searched over the whole text and every object stem looked for: the oracle of the gates."""
    open_gates = (1 << len(_GATES)) - 1
    cot_value = rubric_value = 0.0
    if cot:
        keep = _cues(_COT, lowered, (open_gates >> _FIRST_COT) & _ALL_COT, False)
        best, seen = 0.0, set[int]()
        for stem in _OBJECT_STEMS:
            at = lowered.find(stem)
            while at >= 0 and len(seen) < _MAX_OBJECTS:
                if at not in seen and (at == 0 or not lowered[at - 1].isalnum()):
                    seen.add(at)
                    found = _OBJECT.match(lowered, at)
                    if found is not None:
                        best = max(best, _object_weight(lowered, found))
                at = lowered.find(stem, at + 1)
        keep *= 1.0 - best
        cot_value = round(1.0 - keep, 4)
    if rubric:
        gates = (open_gates >> _FIRST_RUBRIC) & _ALL_RUBRIC
        keep = _cues(_RUBRIC, lowered, gates & ~_RUBRIC_MODIFIERS, False)
        if keep < 1.0:
            keep *= _cues(_RUBRIC, lowered, gates & _RUBRIC_MODIFIERS, False)
        rubric_value = round(1.0 - keep, 4)
    return cot_value, rubric_value


def prompt_scores(user_text: str, system_text: str = "") -> tuple[float, float]:
    """``(cot_score, rubric_score)`` in one pass over the text (what ingest computes for every request)."""
    text = f"{system_text}\n{user_text}" if system_text else user_text
    return _scores(text, True, True) if text else (0.0, 0.0)


def cot_score(user_text: str, system_text: str = "") -> float:
    """How strongly the request elicits a written-out chain of thought, in [0, 1]."""
    text = f"{system_text}\n{user_text}" if system_text else user_text
    return _scores(text, True, False)[0] if text else 0.0


def rubric_score(user_text: str, system_text: str = "") -> float:
    """How strongly the request uses the model as a grader / reward model, in [0, 1]."""
    text = f"{system_text}\n{user_text}" if system_text else user_text
    return _scores(text, False, True)[1] if text else 0.0
