"""Behaviour features on hand-built events whose right values are known."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from detectors.events import RETENTION_MODES, Retention
from detectors.features import BehaviourFeatures
from tests.detectors.features.factory import accounts, at, event, frame


def features(events: list[dict[str, object]], meta: pd.DataFrame | None = None, retention: Retention = "full",
             **params: float) -> pd.DataFrame:
    data = frame(events, retention)
    return BehaviourFeatures(**params).fit(data, meta).transform(data, meta)


def test_volume_and_active_days() -> None:
    events = [event("a", at(days=d, seconds=s)) for d in (0, 2) for s in range(0, 300, 60)]
    events.append(event("b", at(days=3)))  # "now" is day 3
    out = features(events)
    assert out.loc["a", "request_count"] == 10
    assert out.loc["a", "requests_per_active_day"] == 5
    assert out.loc["a", "active_day_share"] == pytest.approx(2 / 4)  # active 2 of the 4 days since its first
    assert out.loc["b", "active_day_share"] == 1


def test_hour_entropy_and_coverage() -> None:
    same_hour = [event("steady", at(days=d, hours=14)) for d in range(6)]
    round_clock = [event("bot", at(hours=h)) for h in range(24)]
    out = features(same_hour + round_clock)
    assert out.loc["steady", "active_hour_entropy"] == 0
    assert out.loc["steady", "active_hour_coverage"] == pytest.approx(1 / 24)
    assert out.loc["bot", "active_hour_entropy"] == pytest.approx(1.0)
    assert out.loc["bot", "active_hour_coverage"] == 1
    assert out.loc["bot", "active_hours_per_active_day"] == 24


def test_night_activity_is_local_to_the_billing_country() -> None:
    # 16:00-20:59 UTC is 01:00-05:59 in Japan (UTC+9) and 11:00-15:59 in New York (UTC-5)
    events = [event(account, at(hours=h)) for account in ("jp", "us", "nowhere") for h in range(16, 21)]
    meta = accounts({"account_id": "jp", "country": "JP"}, {"account_id": "us", "country": "us"})
    out = features(events, meta)
    assert out.loc["jp", "local_night_activity_share"] == 1
    assert out.loc["us", "local_night_activity_share"] == 0
    assert math.isnan(out.loc["nowhere", "local_night_activity_share"])


def test_interarrival_regularity_burstiness_and_concurrency() -> None:
    cron = [event("cron", at(seconds=3600 * i)) for i in range(10)]
    rng = np.random.default_rng(0)
    bursty_times = np.concatenate([np.arange(20) * 0.5, 5000 + np.arange(20) * 0.5, [20000.0]])
    bursty = [event("bursty", at(seconds=float(t))) for t in bursty_times]
    poisson = [event("poisson", at(seconds=float(t))) for t in np.cumsum(rng.exponential(300, 400))]
    out = features(cron + bursty + poisson)
    assert out.loc["cron", "interarrival_cv"] == 0
    assert out.loc["cron", "interarrival_burstiness"] == -1
    assert out.loc["cron", "concurrent_request_share"] == 0
    assert out.loc["bursty", "interarrival_burstiness"] > 0.5
    assert out.loc["bursty", "concurrent_request_share"] == pytest.approx(38 / 40)
    assert out.loc["poisson", "interarrival_cv"] == pytest.approx(1.0, abs=0.15)
    assert abs(out.loc["poisson", "interarrival_burstiness"]) < 0.1
    assert out.loc["cron", "peak_requests_per_minute"] == 1
    assert out.loc["bursty", "peak_requests_per_minute"] == 20


def test_too_few_gaps_give_nan_not_zero() -> None:
    out = features([event("one", at(0)), event("two", at(0)), event("two", at(10))])
    assert math.isnan(out.loc["one", "interarrival_cv"])
    assert math.isnan(out.loc["two", "interarrival_cv"])
    assert out.loc["two", "concurrent_request_share"] == 0


def test_conversation_shape() -> None:
    conversation = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                    {"role": "user", "content": "and then?"}]
    events = [event("chat", at(i), messages=conversation) for i in range(3)]
    events += [event("chat", at(10), "one shot")]
    out = features(events)
    assert out.loc["chat", "single_turn_share"] == pytest.approx(1 / 4)
    assert out.loc["chat", "user_turns_mean"] == pytest.approx((2 * 3 + 1) / 4)


def _turns(depth: int) -> list[dict[str, str]]:
    history: list[dict[str, str]] = []
    for turn in range(depth - 1):
        history += [{"role": "user", "content": f"question {turn}"}, {"role": "assistant", "content": "answer"}]
    return [*history, {"role": "user", "content": f"question {depth}"}]


def test_unanchored_history_counts_deep_turns_no_conversation_start_explains() -> None:
    # genuine chats: every conversation starts at one user turn; trimmed long ones pile up at depth 5
    chats = [event("chat", at(10 * c + t), messages=_turns(depth)) for c in range(4)
             for t, depth in enumerate((1, 2, 3, 5, 5, 5, 5, 5))]
    # a stateless backend relaying client-side histories: depths skip, but never outnumber the openings
    relay = [event("relay", at(i), messages=_turns(depth)) for i, depth in enumerate((1, 1, 1, 3, 3, 1, 5))]
    # harvesting prompts dressed as the second turn of made-up chats, with some single-turn ones
    dressed = [event("dressed", at(i), messages=_turns(2 if i % 4 else 1)) for i in range(8)]
    out = features(chats + relay + dressed + [event("one_shot", at(0))])
    assert out.loc["chat", "unanchored_history_share"] == 0
    assert out.loc["relay", "unanchored_history_share"] == 0
    assert out.loc["dressed", "unanchored_history_share"] == pytest.approx((6 - 2) / 8)
    assert out.loc["one_shot", "unanchored_history_share"] == 0


def test_cot_depth_disparity_compares_reasoning_requests_of_follow_ups_and_first_turns() -> None:
    reasoning = "Now explain your reasoning step by step."
    frame_prompt = [{"role": "system", "content": "Always explain your reasoning step by step."}]

    def chat(account: str, i: int, first: str, follow_up: str, system: list[dict[str, str]]) -> list[dict[str, Any]]:
        start = [*system, {"role": "user", "content": first}]
        return [event(account, at(2 * i), messages=start),
                event(account, at(2 * i + 1), messages=[*start, {"role": "assistant", "content": "ok"},
                                                        {"role": "user", "content": follow_up}])]

    events: list[dict[str, Any]] = []
    for i in range(40):
        # an app whose fixed system prompt asks for reasoning at every turn
        events += chat("app", i, f"tell me about topic {i}", f"and what about part {i}?", frame_prompt)
        # a script that asks for the reasoning in a follow-up after every task
        events += chat("follow_up", i, f"solve task {i}", reasoning, [])
        # an agent loop: the task asks for reasoning, the later turn is a tool result without text
        start = [{"role": "user", "content": f"fix bug {i}, explaining your reasoning step by step"}]
        events += [event("loop", at(2 * i), messages=start),
                   event("loop", at(2 * i + 1), messages=[
                       *start, {"role": "assistant", "content": [{"type": "tool_use", "id": f"t{i}", "name": "run"}]},
                       {"role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": f"t{i}", "content": "ok"}]}])]
    # two conversations only: a difference that chance explains
    events += chat("few", 0, "hello", reasoning, []) + chat("few", 1, "hi", "thanks", [])
    out = features([*events, event("one_shot", at(0))])
    assert out.loc["app", "cot_depth_disparity"] == 0
    assert out.loc["follow_up", "cot_depth_disparity"] == pytest.approx(1 - 2 * np.sqrt(2 * (1 / 42) * (41 / 42) / 40))
    assert out.loc["loop", "cot_depth_disparity"] == pytest.approx(1 - 2 * np.sqrt(2 * (1 / 42) * (41 / 42) / 40))
    assert out.loc["few", "cot_depth_disparity"] == 0
    assert math.isnan(out.loc["one_shot", "cot_depth_disparity"])


@pytest.mark.parametrize("retention", RETENTION_MODES)
def test_tool_results_sent_back_do_not_dilute_the_prompt_rates(retention: Retention) -> None:
    """An agent loop asks once, in its task turn; the tool results it sends back after it carry no words of the
    client's, so its reasoning rate is its tasks' rate, not that rate over the length of its loops."""
    events: list[dict[str, Any]] = []
    for i in range(10):
        task = [{"role": "user", "content": f"Fix bug {i} and explain your reasoning step by step."}]
        events.append(event("loop", at(4 * i), messages=task))
        history = list(task)
        for step in range(3):
            history += [{"role": "assistant", "content": [{"type": "tool_use", "id": f"t{i}{step}", "name": "run"}]},
                        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{i}{step}",
                                                      "content": "exit 0"}]}]  # fmt: skip
            events.append(event("loop", at(4 * i + step + 1), messages=list(history)))
        events.append(event("chat", at(4 * i), f"what is {i} + {i}?"))
    out = features(events, retention=retention)
    expected = 1.0 if retention != "none" else 10 / 40  # without text hashes every request counts, as before
    assert out.loc["loop", "cot_elicitation_rate"] == pytest.approx(expected)
    assert out.loc["chat", "cot_elicitation_rate"] == 0
    assert out.loc["loop", "rubric_prompt_rate"] == 0


def test_token_saturation_and_ratio() -> None:
    events = [
        event("a", at(0), max_tokens=1000, completion_tokens=1000, prompt_tokens=100),
        event("a", at(1), max_tokens=1000, completion_tokens=960, prompt_tokens=100),
        event("a", at(2), max_tokens=1000, completion_tokens=100, prompt_tokens=100),
        event("a", at(3), completion_tokens=500, prompt_tokens=100),  # no max_tokens: not in the saturation share
    ]
    out = features(events)
    assert out.loc["a", "max_tokens_saturation_share"] == pytest.approx(2 / 3)
    assert out.loc["a", "completion_prompt_token_ratio"] == pytest.approx(2560 / 400)


@pytest.mark.parametrize("retention", RETENTION_MODES)
def test_cot_and_rubric_rates_in_every_retention_mode(retention: Retention) -> None:
    system_cot = [{"role": "system", "content": "Always articulate the reasoning behind every step in full."},
                  {"role": "user", "content": "What is the capital of Peru?"}]
    events = [
        event("cot", at(0), messages=system_cot),
        event("cot", at(1), "Show your reasoning and explain why you arrived at the result: 17 * 23"),
        event("cot", at(2), "What is 17 * 23?"),
        event("cot", at(3), "Let's think step by step."),  # benchmark phrasing alone is not elicitation
        event("grader", at(0), "Grade the response on a scale of 1 to 10 using the rubric. Output only the score."),
        event("grader", at(1), "Summarise this article."),
    ]
    out = features(events, retention=retention)
    assert out.loc["cot", "cot_elicitation_rate"] == pytest.approx(2 / 4)
    assert out.loc["grader", "cot_elicitation_rate"] == 0
    assert out.loc["grader", "rubric_prompt_rate"] == pytest.approx(1 / 2)
    assert out.loc["cot", "rubric_prompt_rate"] == 0
    assert out.loc["cot", "cot_score_mean"] > out.loc["grader", "cot_score_mean"]


def test_repeated_prompts_and_sampling() -> None:
    events = [event("rep", at(i), "Same question again", n=4, temperature=1.0) for i in range(3)]
    events += [event("rep", at(5), "A different one", n=1, temperature=0.2)]
    events += [event("cool", at(i), f"q {i} {'x' * i}", n=4, temperature=0.0) for i in range(2)]
    out = features(events)
    assert out.loc["rep", "repeated_prompt_share"] == pytest.approx(2 / 4)
    assert out.loc["rep", "multi_sample_share"] == pytest.approx(3 / 4)
    assert out.loc["rep", "multi_sample_high_temperature_share"] == pytest.approx(3 / 4)
    assert out.loc["cool", "multi_sample_share"] == 1
    assert out.loc["cool", "multi_sample_high_temperature_share"] == 0
    assert out.loc["cool", "repeated_prompt_share"] == 0
    hashed = features(events, retention="hashed")
    assert hashed.loc["rep", "repeated_prompt_share"] == pytest.approx(2 / 4)
    assert math.isnan(features(events, retention="none").loc["rep", "repeated_prompt_share"])


def test_tool_use_from_tool_definitions_or_tool_messages() -> None:
    tool_turn = [{"role": "user", "content": "list files"}, {"role": "assistant", "content": ""},
                 {"role": "tool", "content": "a.txt b.txt"}]
    events = [event("agent", at(0), tools=3), event("agent", at(1), messages=tool_turn),
              event("agent", at(2), "plain"), event("agent", at(3), "plain", tools=0)]
    assert features(events).loc["agent", "tool_use_share"] == pytest.approx(2 / 4)


def test_model_pivot_after_a_new_model_appears() -> None:
    events = []
    for account in ("pivot", "loyal", "late"):
        events += [event(account, at(hours=h), model="m1") for h in range(0, 48, 4)]
    release = 48
    events += [event("pivot", at(hours=release + h), model="m2") for h in range(0, 24, 2)]
    events += [event("loyal", at(hours=release + h), model="m1") for h in range(0, 24, 2)]
    events += [event("late", at(hours=release + h), model="m1") for h in range(0, 24, 2)]
    events += [event("late", at(hours=release + 30), model="m2")]
    out = features(events)
    assert out.loc["pivot", "new_model_traffic_share_24h"] == 1
    assert out.loc["pivot", "new_model_adoption_hours"] == 0
    assert out.loc["loyal", "new_model_traffic_share_24h"] == 0
    assert math.isnan(out.loc["loyal", "new_model_adoption_hours"])
    assert out.loc["late", "new_model_traffic_share_24h"] == 0
    assert out.loc["late", "new_model_adoption_hours"] == 30


def test_no_new_model_means_nan() -> None:
    out = features([event("a", at(hours=h), model="m1") for h in range(60)])
    assert math.isnan(out.loc["a", "new_model_traffic_share_24h"])


def test_error_and_rate_limit_shares() -> None:
    events = [event("a", at(i), status=s) for i, s in enumerate([200, 200, 429, 500, None])]
    out = features(events)
    assert out.loc["a", "error_share"] == pytest.approx(2 / 4)
    assert out.loc["a", "rate_limited_share"] == pytest.approx(1 / 4)


def test_thresholds_are_parameters() -> None:
    events = [event("a", at(0), "Let's think step by step."), event("a", at(1), "hello")]
    assert features(events).loc["a", "cot_elicitation_rate"] == 0
    assert features(events, cot_threshold=0.3).loc["a", "cot_elicitation_rate"] == pytest.approx(0.5)


@pytest.mark.parametrize("params", [{"cot_threshold": 0.0}, {"saturation_fraction": 1.5},
                                    {"concurrency_seconds": -1.0}])
def test_invalid_parameters_are_refused_at_fit(params: dict[str, float]) -> None:
    data = frame([event("a", at(0))])
    extractor = BehaviourFeatures(**params)  # __init__ only stores
    with pytest.raises(ValueError):
        extractor.fit(data)
