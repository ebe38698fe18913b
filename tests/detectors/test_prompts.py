"""CoT-elicitation and rubric scores: phrasings written for these tests, never copied from a corpus."""

from __future__ import annotations

import pytest

from detectors.prompts import cot_score, prompt_scores, rubric_score

ELICITING = [
    "Articulate the reasoning behind your classification of this sentence.",
    "Solve for x. Show all your work and explain each of the steps.",
    "Before answering, reason through the problem and write out your full reasoning trace.",
    "Use chain-of-thought: think carefully, then give the final answer.",
    "Put your inner monologue in a scratchpad before replying.",
    "Answer the quiz question and explain your answer.",
    "Describe how you used the given formula to reach the result.",
    "Explain in simple steps what the instructions are asking for.",
    "Pick the right option, then explain why the other options are wrong.",
    # the same request in other words
    "Present all of the calculations you did, then the total.",
    "Keep your thought process visible to the reader.",
    "Write down the intermediate results as you go.",
    "Answer in JSON with a 'rationale': field and an 'answer' field.",
    "Wrap the working in <reasoning> tags before the final line.",
]
ORDINARY = [
    "What's a good name for a golden retriever puppy?",
    "Translate 'good morning' into Portuguese.",
    "Write a haiku about the sea.",
    "Summarise the plot of Hamlet in two sentences.",
    "Can you recommend a book about the history of Rome?",
    "My code throws a KeyError, here is the traceback: ...",
    "What's the weather usually like in Lisbon in May?",
    "Explain photosynthesis to a child.",
    "Great, now on to step 3 of the recipe.",
    "Divide the guests into two tables.",
    "Show me your favourite poem.",
]


@pytest.mark.parametrize("text", ELICITING)
def test_eliciting_prompts_score_high(text: str) -> None:
    assert cot_score(text) >= 0.4


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_prompts_do_not_elicit(text: str) -> None:
    assert cot_score(text) < 0.4
    assert rubric_score(text) < 0.4


def test_benchmark_phrasing_alone_is_a_weak_cue() -> None:
    assert 0 < cot_score("Q: 3 + 5 * 2 = ? A: Let's think step by step.") < 0.5


def test_system_prompt_counts() -> None:
    system = "You are a tutor. Whatever the question, explain how you arrived at the answer."
    assert cot_score("What is 12 * 13?") == 0
    assert cot_score("What is 12 * 13?", system) >= 0.5


def test_cues_combine_and_stay_in_range() -> None:
    one = cot_score("Think step by step.")
    both = cot_score("Think step by step and articulate your reasoning.")
    assert one < both <= 1


@pytest.mark.parametrize("text", [
    "Rate the response below on a scale of 1 to 10 for helpfulness. Output only the score.",
    "Which response is better, Response A or Response B? Act as a judge.",
    "Using the rubric, grade this essay and give a final score.",
])
def test_grading_prompts_score_as_rubric(text: str) -> None:
    assert rubric_score(text) >= 0.5
    assert cot_score(text) < 0.5


def test_prompt_scores_is_both_scores_at_once() -> None:
    for text in ELICITING + ORDINARY:
        assert prompt_scores(text, "Be brief.") == (cot_score(text, "Be brief."), rubric_score(text, "Be brief."))


def test_case_and_non_ascii_text() -> None:
    assert cot_score("ARTICULATE THE REASONING BEHIND IT") == cot_score("articulate the reasoning behind it")
    assert cot_score("Erkläre Schritt für Schritt — articulate your reasoning, bitte") >= 0.5
