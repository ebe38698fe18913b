"""The CoT and grading scores on wordings they were not tuned on (tests/detectors/prompt_paraphrases.py).

Floors, not exact counts: a rule that lifts one frozen wording may drop another.  The counting
threshold is the one the risk model uses (0.5).
"""

from __future__ import annotations

from detectors.prompts import prompt_scores
from tests.detectors import prompt_paraphrases as sets

COUNTS = 0.5


def _share(texts: tuple[str, ...], which: int) -> float:
    return sum(prompt_scores(text)[which] >= COUNTS for text in texts) / len(texts)


def _either(texts: tuple[str, ...]) -> float:
    return sum(max(prompt_scores(text)) >= COUNTS for text in texts) / len(texts)


def test_frozen_chain_of_thought_wordings_count() -> None:
    assert _share(sets.FROZEN_COT, 0) >= 0.9
    assert _share(sets.FROZEN_LATE_COT, 0) >= 0.75


def test_frozen_grading_wordings_count() -> None:
    assert _share(sets.FROZEN_RUBRIC, 1) >= 0.85
    assert _share(sets.FROZEN_LATE_RUBRIC, 1) >= 0.65


def test_frozen_ordinary_prompts_do_not_count() -> None:
    negatives = (*sets.FROZEN_HUMAN, *sets.FROZEN_EVAL_RUNNER, *sets.FROZEN_APP_SYSTEM)
    assert _either(negatives) <= 0.05
    assert _either(sets.FROZEN_LATE_NEGATIVE) <= 0.05


def test_grading_prompts_are_not_reasoning_requests() -> None:
    assert _share((*sets.FROZEN_RUBRIC, *sets.FROZEN_LATE_RUBRIC), 0) <= 0.1


def test_dev_wordings() -> None:
    assert all(prompt_scores(text)[0] >= COUNTS for text in sets.DEV_COT)
    assert all(prompt_scores(text)[1] >= COUNTS for text in sets.DEV_RUBRIC)
    assert all(max(prompt_scores(text)) < COUNTS for text in sets.DEV_NEGATIVE)


def test_bare_think_step_by_step_stays_weak() -> None:
    for text in ("Let's think step by step.", "Think step by step.", "Q: 2 + 2 = ?\nA: Let's think step by step."):
        assert 0 < prompt_scores(text)[0] < COUNTS


def test_explaining_a_topic_in_detail_stays_below_the_threshold() -> None:
    for text in (
        "Explain quantum entanglement in detail.",
        "Explain in full detail how the immune system fights a virus.",
        "Give me a thorough, complete explanation of the French tax system.",
    ):
        assert prompt_scores(text)[0] < COUNTS
