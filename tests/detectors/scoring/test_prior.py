"""The label-free prior: population-relative strengths, intent gating, capped intent, shrinkage, NaN."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detectors.scoring.prior import DEFAULT_TERMS, EVASION_CAP, INTENT_CAP, RELAY_DISCOUNT, PriorModel, Term


def population(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "request_count": rng.integers(5, 200, n).astype(float),
            "cot_elicitation_rate": np.where(rng.random(n) < 0.9, 0.0, rng.uniform(0, 0.05, n)),
            "rubric_prompt_rate": 0.0,
            "topic_breadth": rng.uniform(0.05, 0.3, n),
            "active_hours_per_active_day": rng.uniform(0.5, 3.0, n),
            "single_turn_share": rng.uniform(0.2, 0.7, n),
            "ip_single_use_share": rng.uniform(0.0, 0.1, n),
        },
        index=pd.Index([f"a{i:04d}" for i in range(n)], name="account_id"),
    )
    return frame


def with_row(frame: pd.DataFrame, account_id: str, **values: float) -> pd.DataFrame:
    row = frame.median().to_dict() | values
    return pd.concat([frame, pd.DataFrame([row], index=pd.Index([account_id], name="account_id"))])


def test_ordinary_accounts_get_no_hazard() -> None:
    frame = population()
    model = PriorModel().fit(frame)
    assert (model.score(frame) < 0.05).mean() > 0.95


def test_shape_without_intent_says_nothing() -> None:
    """A round-the-clock, broad, single-turn account with ordinary prompts (a batch job, an app) scores 0."""
    frame = with_row(population(), "heavy", request_count=50_000, topic_breadth=1.0, active_hours_per_active_day=24,
                     single_turn_share=1.0, ip_single_use_share=1.0)  # fmt: skip
    model = PriorModel().fit(frame)
    assert model.intent(frame).loc["heavy"] == 0.0
    assert model.score(frame).loc["heavy"] == 0.0


def test_intent_alone_is_capped_below_the_review_threshold() -> None:
    frame = with_row(population(), "asker", request_count=500, cot_elicitation_rate=1.0, rubric_prompt_rate=1.0)
    model = PriorModel().fit(frame)
    hazards = model.hazards(frame).loc["asker"]
    intent = [t.feature for t in model.terms_ if t.group == "intent"]
    assert hazards[intent].sum() == pytest.approx(INTENT_CAP)
    assert model.score(frame).loc["asker"] < 0.8


def test_intent_with_harvest_shape_reaches_the_threshold() -> None:
    frame = with_row(population(), "harvester", request_count=5000, cot_elicitation_rate=0.4, topic_breadth=0.95,
                     active_hours_per_active_day=24, single_turn_share=1.0, ip_single_use_share=0.9)  # fmt: skip
    model = PriorModel().fit(frame)
    assert model.score(frame).loc["harvester"] >= 0.8


def test_rates_of_small_accounts_are_shrunk() -> None:
    base = population()
    small = with_row(base, "small", request_count=3, cot_elicitation_rate=0.34)
    large = with_row(base, "large", request_count=3000, cot_elicitation_rate=0.34)
    frame = pd.concat([small, large.loc[["large"]]])
    model = PriorModel().fit(frame)
    strengths = model.strengths(frame)["cot_elicitation_rate"]
    assert strengths.loc["small"] < strengths.loc["large"]
    assert strengths.loc["large"] == 1.0


def test_missing_features_and_nan_contribute_nothing() -> None:
    frame = population().drop(columns=["rubric_prompt_rate"])
    frame.loc[frame.index[:10], "cot_elicitation_rate"] = np.nan
    model = PriorModel().fit(frame)
    assert "rubric_prompt_rate" not in model.get_feature_names_out()
    hazards = model.hazards(frame)
    assert not hazards.isna().any().any()
    assert (hazards.loc[frame.index[:10], "cot_elicitation_rate"] == 0).all()


def test_row_order_does_not_matter() -> None:
    frame = with_row(population(), "x", request_count=900, cot_elicitation_rate=0.3, topic_breadth=0.9)
    model = PriorModel().fit(frame)
    shuffled = frame.sample(frac=1.0, random_state=3)
    again = PriorModel().fit(shuffled)
    pd.testing.assert_series_equal(model.score(frame), again.score(shuffled).reindex(frame.index))


def test_lower_is_riskier_terms_flip_the_z_score() -> None:
    terms = (
        Term("cot_elicitation_rate", 0.8, "intent", 0.03, "share", "x"),
        Term("account_age_days_at_first_request", 0.5, "infrastructure", 30.0, "days", "y", riskier="lower"),
    )
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"cot_elicitation_rate": 1.0, "account_age_days_at_first_request": rng.uniform(300, 400, 50)})
    frame.loc[0, "account_age_days_at_first_request"] = 0.0
    strengths = PriorModel(terms).fit(frame).strengths(frame)["account_age_days_at_first_request"]
    assert strengths.iloc[0] == 1.0
    assert (strengths.iloc[1:] == 0.0).all()


def test_every_default_weight_is_documented_and_bounded() -> None:
    for term in DEFAULT_TERMS:
        assert 0 < term.weight <= 1.0, term
        assert term.text, term
        assert term.min_scale > 0, term
    assert len({term.feature for term in DEFAULT_TERMS}) == len(DEFAULT_TERMS)


def test_reasoning_concentrated_in_an_end_user_is_capped_intent_that_opens_the_gate() -> None:
    # a reseller: its own rate diluted to the population's, one of its end users harvesting reasoning
    base = population().assign(end_user_cot_excess=np.nan)
    base.loc[base.index[:40], "end_user_cot_excess"] = 0.0  # app backends relaying end users
    frame = with_row(base, "reseller", request_count=3000, end_user_cot_excess=0.2, topic_breadth=0.9)
    model = PriorModel().fit(frame)
    hazards = model.hazards(frame)
    assert model.intent(frame).loc["reseller"] == 1.0
    assert hazards.loc["reseller", "end_user_cot_excess"] == pytest.approx(0.8)
    assert hazards.loc["reseller", "topic_breadth"] > 0  # shape counts once the end-user intent opens the gate
    intent = [t.feature for t in model.terms_ if t.group == "intent"]
    assert hazards[intent].sum(axis=1).max() <= INTENT_CAP + 1e-9
    assert (hazards.loc[base.index, "end_user_cot_excess"] == 0).all()


def disguise_population(n: int = 400, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = population(n, seed)
    frame["cot_elicitation_rate"] = 0.0  # no account's prompts are recognised as asking for reasoning
    frame["ip_distinct_per_day"] = rng.choice([1.0, 1.0, 1.0, 2.0], n)
    frame["hosting_traffic_share"] = np.where(rng.random(n) < 0.1, 1.0, 0.0)
    frame["unanchored_history_share"] = 0.0
    return frame


HARVEST_SHAPE = {
    "request_count": 3000, "topic_breadth": 0.9, "active_hours_per_active_day": 20, "single_turn_share": 1.0,
}  # fmt: skip


def test_harvest_shape_behind_rotating_residential_addresses_opens_the_gate_without_words() -> None:
    frame = with_row(disguise_population(), "proxied", **HARVEST_SHAPE, ip_distinct_per_day=30, hosting_traffic_share=0)
    model = PriorModel().fit(frame)
    assert model.evasion(frame).loc["proxied"] == pytest.approx(EVASION_CAP)
    assert model.intent(frame).loc["proxied"] == pytest.approx(EVASION_CAP)  # never a full gate without words
    assert model.score(frame).loc["proxied"] > model.score(frame).drop("proxied").max()


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("cloud egress", HARVEST_SHAPE | {"ip_distinct_per_day": 30, "hosting_traffic_share": 1.0}),  # app backend
        ("shape only", HARVEST_SHAPE | {"ip_distinct_per_day": 1}),  # eval runner, batch job
        ("rotation only", {"request_count": 300, "ip_distinct_per_day": 30}),  # a phone on carrier-grade NAT
    ],
)
def test_the_evasion_gate_needs_both_a_harvest_shape_and_a_disguise(name: str, values: dict[str, float]) -> None:
    frame = with_row(disguise_population(), name, **values)
    model = PriorModel().fit(frame)
    assert model.evasion(frame).loc[name] == 0.0
    assert model.score(frame).loc[name] == 0.0


# an app backend whose system prompt asks every request for reasoning, relaying the public round the clock from
# the cloud (a harvesting harness on a cloud machine looks the same on these features)
REASONING_APP = {
    "request_count": 5000, "cot_elicitation_rate": 1.0, "topic_breadth": 0.95, "active_hours_per_active_day": 20,
    "hosting_traffic_share": 1.0,
}  # fmt: skip


def relay_population(n: int = 400, seed: int = 2) -> pd.DataFrame:
    frame = disguise_population(n, seed)
    frame["end_user_count"] = np.nan  # direct customers send no end-user ids
    frame["end_user_top_request_share"] = np.nan
    frame["end_user_cot_excess"] = np.nan
    return frame


@pytest.mark.parametrize(
    ("name", "values"),
    [
        # 40% of its requests are follow-up turns of conversations it was seen starting
        ("conversations", {"single_turn_share": 0.6, "unanchored_history_share": 0.0}),
        # single-turn, but 300 end users of whom the busiest sends 2%, each at the account's reasoning rate
        ("end users", {"single_turn_share": 1.0, "end_user_count": 300, "end_user_top_request_share": 0.02,
                       "end_user_cot_excess": 0.0}),
    ],
)  # fmt: skip
def test_a_relay_of_peoples_requests_discounts_the_shape_not_the_intent(name: str, values: dict[str, float]) -> None:
    frame = with_row(relay_population(), "harness", **REASONING_APP, single_turn_share=1.0)
    frame = with_row(frame, name, **REASONING_APP, **values)
    model = PriorModel().fit(frame)
    hazards, score = model.hazards(frame), model.score(frame)
    assert model.relay(frame).loc[name] == 1.0 and model.relay(frame).loc["harness"] == 0.0
    assert model.intent(frame).loc[name] == model.intent(frame).loc["harness"] == 1.0
    assert hazards.loc[name, "cot_elicitation_rate"] == hazards.loc["harness", "cot_elicitation_rate"] > 0
    assert hazards.loc[name, "topic_breadth"] == pytest.approx(
        (1 - RELAY_DISCOUNT) * hazards.loc["harness", "topic_breadth"]
    )
    assert score.loc["harness"] >= 0.8 > score.loc[name] > score.drop([name, "harness"]).max()


@pytest.mark.parametrize(
    ("name", "values"),
    [
        # fabricated histories: follow-ups without the conversation starts they would need
        ("made-up chats", {"single_turn_share": 0.1, "unanchored_history_share": 0.5}),
        # a residential proxy pool
        ("proxy pool", {"single_turn_share": 0.5, "ip_distinct_per_day": 40, "hosting_traffic_share": 0.0}),
        # a reseller: reasoning requests concentrated in a few of its many end users
        ("reseller", {"single_turn_share": 1.0, "end_user_count": 300, "end_user_top_request_share": 0.05,
                      "end_user_cot_excess": 0.3}),
        # genuine conversations, but reasoning asked for in the follow-ups of a script, not by a fixed frame
        ("scripted follow-ups", {"single_turn_share": 0.5, "unanchored_history_share": 0.0,
                                 "cot_depth_disparity": 0.2}),
        # one "end user" sends most of the traffic: a harness with a label, not a user base
        ("one end user", {"single_turn_share": 1.0, "end_user_count": 300, "end_user_top_request_share": 0.8,
                          "end_user_cot_excess": 0.0}),
    ],
)  # fmt: skip
def test_a_disguise_voids_the_relay_discount(name: str, values: dict[str, float]) -> None:
    frame = with_row(relay_population(), name, **(REASONING_APP | values))
    model = PriorModel().fit(frame)
    assert model.relay(frame).loc[name] == 0.0
    assert model.gate(frame).loc[name] == model.intent(frame).loc[name] == 1.0
    assert model.score(frame).loc[name] >= 0.8
