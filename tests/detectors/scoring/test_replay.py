"""Suite replay: the share of an account's distinct (model, prompt) pairs sent again in a later run.

An evaluation harness re-runs its suite, hours or days later; a sweep, a run of repeated samples and a move to a
new model do not re-ask one model the same prompt hours later; people repeat a few openers.  The prior discounts
the harvest-shape evidence of a suite re-run like a relay, never its intent, and not behind a disguise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from detectors.events import to_event_frame
from detectors.scoring.prior import RELAY_DISCOUNT, PriorModel
from detectors.scoring.replay import FEATURE, MIN_PROMPTS, suite_replay_share
from tests.detectors.scoring.test_prior import REASONING_APP, relay_population, with_row

DAY = 86_400.0
START = 1_790_000_000.0 - (1_790_000_000.0 % DAY) + 3_600.0


def _rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def emit(account: str, day: int, text: str, model: str = "m-1", offset: float = 0.0) -> None:
        rows.append({"request_id": f"r{len(rows)}", "account_id": account, "ts": START + day * DAY + offset,
                     "model": model, "messages": [{"role": "user", "content": text}]})  # fmt: skip

    suite = [f"Benchmark question {k}: which option is correct?" for k in range(60)]
    for day in (0, 3):  # the suite twice, three days apart
        for k, question in enumerate(suite):
            emit("eval", day, question, offset=k * 5.0)
    for day in range(5):  # a sweep: new tasks every day
        for k in range(40):
            emit("sweep", day, f"Task {day}-{k}: implement a parser for format {day * 40 + k}", offset=k * 60.0)
    for k in range(30):  # repeated sampling: each prompt eight times in a row, on one day
        for sample in range(8):
            emit("sampler", k // 10, f"Prove lemma {k} with every step shown", offset=k * 600.0 + sample)
    for k, question in enumerate(suite):  # the suite twice on one UTC day, nine hours apart
        emit("same-day eval", 1, question, offset=k * 5.0)
        emit("same-day eval", 1, question, offset=9 * 3_600.0 + k * 5.0)
    for k in range(30):  # each prompt eight times in four minutes, around midnight (UTC): two days, one run
        for sample in range(8):
            emit("midnight sampler", k, f"Derive identity {k} in full", offset=-3_600.0 - 120.0 + sample * 30.0)
    for k, question in enumerate(suite[:40]):  # old prompts moved to the new model the next day
        emit("pivot", 0, question, model="m-1", offset=k * 30.0)
        emit("pivot", 1, question, model="m-2", offset=k * 30.0)
    for day in range(5):  # a person: mostly new questions, "hi" and "thanks" every day
        for k in range(8):
            emit("person", day, f"how do I cook dish {day * 8 + k}?", offset=k * 200.0)
        emit("person", day, "hi", offset=5000.0)
        emit("person", day, "thanks", offset=5100.0)
    for day in (0, 1):  # too few distinct prompts to say anything
        for k in range(MIN_PROMPTS - 1):
            emit("light", day, f"question {k}", offset=k * 10.0)
    return rows


@pytest.mark.parametrize("retention", ["full", "hashed"])
def test_a_suite_rerun_is_told_from_sweeps_samples_pivots_and_people(retention: Any) -> None:
    frame = to_event_frame(_rows(), retention)
    index = pd.Index(["eval", "same-day eval", "sweep", "sampler", "midnight sampler", "pivot", "person", "light",
                      "absent"], name="account_id")  # fmt: skip
    share = suite_replay_share(frame, index)
    assert share.name == FEATURE and list(share.index) == list(index)
    assert share["eval"] == share["same-day eval"] == 1.0
    assert share["sweep"] == share["sampler"] == share["midnight sampler"] == share["pivot"] == 0.0
    assert share["person"] == pytest.approx(2 / 42)
    assert np.isnan(share["light"]) and np.isnan(share["absent"])


def test_without_prompt_hashes_there_is_no_evidence() -> None:
    frame = to_event_frame(_rows(), "none")
    assert suite_replay_share(frame, pd.Index(["eval", "sweep"])).isna().all()


def test_row_order_does_not_matter() -> None:
    frame = to_event_frame(_rows())
    index = pd.Index(["eval", "sweep", "person"])
    shuffled = frame.sample(frac=1.0, random_state=3)
    pd.testing.assert_series_equal(suite_replay_share(frame, index), suite_replay_share(shuffled, index))


def test_a_suite_rerun_discounts_the_shape_not_the_intent() -> None:
    bursts = REASONING_APP | {"active_hours_per_active_day": 2}  # a suite run, then nothing until the next one
    frame = with_row(relay_population(), "harness", **REASONING_APP, single_turn_share=1.0, suite_replay_share=0.0)
    frame = with_row(frame, "eval runner", **bursts, single_turn_share=1.0, suite_replay_share=0.9)
    for name, replayed in (("disguised", 0.9), ("disguised, no replay", 0.0)):
        frame = with_row(frame, name, **(bursts | {"hosting_traffic_share": 0.0}), single_turn_share=1.0,
                         suite_replay_share=replayed, ip_distinct_per_day=40)  # fmt: skip
    model = PriorModel().fit(frame)
    hazards, score = model.hazards(frame), model.score(frame)
    assert model.replay(frame).loc["eval runner"] == 1.0 and model.replay(frame).loc["harness"] == 0.0
    assert model.replay(frame).loc["disguised"] == 0.0  # a residential proxy pool is no evaluation harness
    assert hazards.loc["eval runner", "cot_elicitation_rate"] == hazards.loc["harness", "cot_elicitation_rate"] > 0
    assert hazards.loc["eval runner", "topic_breadth"] == pytest.approx(
        (1 - RELAY_DISCOUNT) * hazards.loc["harness", "topic_breadth"]
    )
    assert score.loc["harness"] >= 0.8 > score.loc["eval runner"]
    assert score.loc["disguised"] == pytest.approx(score.loc["disguised, no replay"])


@pytest.mark.parametrize(("hours", "evidence"), [(2.0, 1.0), (18.0, 1.0), (20.5, 0.5), (23.0, 0.0), (24.0, 0.0)])
def test_replay_around_the_clock_is_a_harvest_looping_over_its_pool(hours: float, evidence: float) -> None:
    """An evaluation re-runs its suite in bursts; an account collecting around the clock that comes back to the
    prompts it sent before is resampling a finite pool's answers: its shape evidence stays."""
    frame = with_row(relay_population(), "harness", **REASONING_APP, single_turn_share=1.0, suite_replay_share=0.0)
    frame = with_row(frame, "looping", **(REASONING_APP | {"active_hours_per_active_day": hours}),
                     single_turn_share=1.0, suite_replay_share=0.9)  # fmt: skip
    model = PriorModel().fit(frame)
    assert model.replay(frame).loc["looping"] == pytest.approx(evidence)
    hazards = model.hazards(frame)
    assert hazards.loc["looping", "topic_breadth"] == pytest.approx(
        (1 - RELAY_DISCOUNT * evidence) * hazards.loc["harness", "topic_breadth"]
    )
    if evidence == 0.0:
        assert model.score(frame).loc["looping"] >= 0.8
