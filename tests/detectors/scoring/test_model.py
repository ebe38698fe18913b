"""Account and cluster risk together: inheritance from risky clusters, none for lone users or benign orgs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detectors.scoring.clusters import GATE_FLOOR, ClusterScorer
from detectors.scoring.decision import Thresholds
from detectors.scoring.explain import account_reasons, cluster_reasons
from detectors.scoring.model import CLUSTER_TERM, RiskModel, prior_version
from detectors.scoring.prior import INTENT_CAP, RELAY_DISCOUNT


def population(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 300
    frame = pd.DataFrame(
        {
            "request_count": rng.integers(5, 100, n).astype(float),
            "cot_elicitation_rate": 0.0,
            "topic_breadth": rng.uniform(0.05, 0.3, n),
            "active_hours_per_active_day": rng.uniform(0.5, 3.0, n),
            "single_turn_share": rng.uniform(0.2, 0.7, n),
        },
        index=pd.Index([f"u{i:03d}" for i in range(n)], name="account_id"),
    )
    columns = list(frame.columns)
    extra = {f"c{i}": [150.0, 0.3, 0.7, 2.0, 0.5] for i in range(6)}  # campaign: reasoning over broad topics
    extra |= {f"o{i}": [40.0, 0.0, 0.2, 8.0, 0.4] for i in range(6)}  # one company's ordinary staff
    extra["lone"] = [60_000.0, 0.0, 0.9, 24.0, 1.0]  # a lone heavy user with ordinary prompts
    rows = pd.DataFrame.from_dict(extra, orient="index", columns=columns)
    rows.index.name = "account_id"
    return pd.concat([frame, rows]).astype(float)


def cluster_features(org_share: float) -> pd.DataFrame:
    row = {
        "size": 6, "members_sharing_payment": 6, "members_on_shared_ips": 6, "internal_weight": 9.0,
        "lockstep_share": 0.7, "template_request_share": 0.5, "same_org_share": 0.0,
    }  # fmt: skip
    return pd.DataFrame([row, {**row, "same_org_share": org_share}], index=pd.Index(["camp", "org"]))


@pytest.fixture
def scored() -> tuple[RiskModel, pd.DataFrame, pd.Series]:
    frame = population()
    labels = pd.Series(pd.NA, index=frame.index, dtype="string")
    labels[[f"c{i}" for i in range(6)]] = "camp"
    labels[[f"o{i}" for i in range(6)]] = "org"
    return RiskModel().fit(frame), frame, labels


def test_campaign_members_inherit_and_the_lone_heavy_user_does_not(scored) -> None:  # type: ignore[no-untyped-def]
    model, frame, labels = scored
    scores = model.score(frame, cluster_of=labels, cluster_features=cluster_features(org_share=1.0))
    accounts = scores.accounts
    assert scores.clusters.loc["camp", "score"] > 0.9
    members = [f"c{i}" for i in range(6)]
    assert (accounts.loc[members, "risk_score"] >= scores.clusters.loc["camp", "score"] - 1e-9).all()
    assert accounts.loc["lone", "risk_score"] < 0.2
    assert pd.isna(accounts.loc["lone", "cluster_label"])


def test_a_declared_organisation_with_ordinary_traffic_is_benign(scored) -> None:  # type: ignore[no-untyped-def]
    model, frame, labels = scored
    scores = model.score(frame, cluster_of=labels, cluster_features=cluster_features(org_share=1.0))
    assert bool(scores.clusters.loc["org", "benign"])
    assert scores.clusters.loc["org", "score"] < 0.5
    assert (scores.accounts.loc[[f"o{i}" for i in range(6)], "cluster_hazard"] == 0).all()
    hidden = model.score(frame, cluster_of=labels, cluster_features=cluster_features(org_share=0.0))
    assert hidden.clusters.loc["org", "score"] > scores.clusters.loc["org", "score"]


def test_no_inheritance_from_dismissed_clusters(scored) -> None:  # type: ignore[no-untyped-def]
    model, frame, labels = scored
    scores = model.score(frame, cluster_of=labels, cluster_features=cluster_features(1.0), no_inheritance=["camp"])
    members = [f"c{i}" for i in range(6)]
    assert (scores.accounts.loc[members, "cluster_hazard"] == 0).all()
    pd.testing.assert_series_equal(
        scores.accounts.loc[members, "risk_score"], scores.accounts.loc[members, "own_score"], check_names=False
    )


def test_contributions_sum_to_the_score_and_every_account_has_reasons(scored) -> None:  # type: ignore[no-untyped-def]
    model, frame, labels = scored
    scores = model.score(frame, cluster_of=labels, cluster_features=cluster_features(1.0))
    reasons = account_reasons(scores, frame, model.prior, limit=50)
    assert set(reasons) == set(frame.index)
    for account_id, items in reasons.items():
        assert items, account_id
        total = sum(r["contribution"] for r in items)
        assert total == pytest.approx(scores.accounts.loc[account_id, "risk_score"], abs=0.01 + 0.005 * len(items))
        for reason in items:
            assert set(reason) == {"feature", "value", "contribution", "text"}
            assert isinstance(reason["text"], str) and reason["text"]
    member = reasons["c0"]
    assert member[0]["feature"] == "cluster_score"
    assert "camp" in member[0]["text"]
    assert any(r["feature"] == "cot_elicitation_rate" and "step-by-step" in r["text"] for r in member)
    assert scores.account_terms.loc["c0", CLUSTER_TERM] > 0


def test_cluster_reasons_name_their_terms(scored) -> None:  # type: ignore[no-untyped-def]
    model, frame, labels = scored
    scores = model.score(frame, cluster_of=labels, cluster_features=cluster_features(1.0))
    reasons = cluster_reasons(scores, ClusterScorer())
    names = {r["feature"] for r in reasons["camp"]}
    assert {"lockstep_share", "members_sharing_payment_share"} <= names
    assert any(r["feature"] == "benign_organisation" for r in reasons["org"])


def test_scores_are_deterministic_and_bounded(scored) -> None:  # type: ignore[no-untyped-def]
    model, frame, labels = scored
    first = model.score(frame, cluster_of=labels, cluster_features=cluster_features(0.5)).accounts
    second = RiskModel().fit(frame).score(frame, cluster_of=labels, cluster_features=cluster_features(0.5)).accounts
    pd.testing.assert_frame_equal(first, second)
    assert first["risk_score"].between(0, 1).all()


def test_version_changes_with_the_weights() -> None:
    from detectors.scoring.prior import DEFAULT_TERMS

    changed = (DEFAULT_TERMS[0].__class__(**{**{s: getattr(DEFAULT_TERMS[0], s) for s in DEFAULT_TERMS[0].__slots__},
                                               "weight": 0.1}), *DEFAULT_TERMS[1:])  # fmt: skip
    assert prior_version() == prior_version()
    assert prior_version(changed) != prior_version()


def test_empty_population() -> None:
    frame = population().iloc[:0]
    scores = RiskModel().fit(frame).score(frame)
    assert scores.accounts.empty and scores.clusters.empty


def test_cluster_members_weigh_in_without_their_relay_discount() -> None:
    """A proxy network mixing customers' conversations with a campaign's requests relays people in every account,
    which explains each account's harvest-like shape but not the hidden control that links them: the cluster
    weighs its members by their undiscounted hazard, while each account keeps its own discount."""
    frame = population()
    campaign = [f"c{i}" for i in range(6)]
    frame.loc[campaign, "single_turn_share"] = 0.5  # half its requests are follow-ups of customers' conversations
    frame["unanchored_history_share"] = 0.0
    labels = pd.Series(pd.NA, index=frame.index, dtype="string")
    labels[campaign] = "camp"
    model = RiskModel().fit(frame)
    assert (model.prior.relay(frame).loc[campaign] == 1.0).all()
    discounted = model.prior.hazards(frame).sum(axis=1)
    undiscounted = model.prior.hazards(frame, relay_discount=False).sum(axis=1)
    assert (undiscounted.loc[campaign] > discounted.loc[campaign]).all()
    scores = model.score(frame, cluster_of=labels, cluster_features=cluster_features(0.0).loc[["camp"]])
    member = scores.clusters.loc["camp", "member_hazard"]
    assert member == pytest.approx(undiscounted.loc[campaign].mean())
    assert scores.accounts.loc[campaign, "prior_hazard"].to_numpy() == pytest.approx(discounted.loc[campaign])


def test_a_linked_pair_of_suite_re_runners_is_not_scored_as_a_campaign() -> None:
    """Two accounts of one eval team, linked, asking a benchmark with "think step by step" and re-running it: their
    shared templates are the suite and their move to a new model is its next run.  The suite replay discounts the
    members' shape and the gate of the cluster's campaign terms, unlike a relay of people, and in the cluster also
    the members' intent: their intent alone is a member risk of up to 0.63, which with the suite they share put
    such a pair over the cluster threshold (0.703 here, 0.48 now).  Their own scores keep the intent in full."""
    frame = population()
    frame["suite_replay_share"] = 0.0
    team = [f"c{i}" for i in range(2)]
    labels = pd.Series(pd.NA, index=frame.index, dtype="string")
    labels[team] = "camp"
    features = cluster_features(0.0).loc[["camp"]].assign(size=2, members_sharing_payment=0, members_on_shared_ips=0,
                                                          internal_weight=0.7, lockstep_share=0.0,
                                                          template_request_share=0.8)  # fmt: skip
    model = RiskModel().fit(frame)
    harvest = model.score(frame, cluster_of=labels, cluster_features=features)
    replayed = frame.copy()
    replayed.loc[team, "suite_replay_share"] = 0.9
    model = RiskModel().fit(replayed)
    evals = model.score(replayed, cluster_of=labels, cluster_features=features)
    assert (model.prior.replay(replayed).loc[team] == 1.0).all()
    intent_terms = [t.feature for t in model.prior.terms_ if t.group == "intent"]
    assert evals.clusters.loc["camp", "member_hazard"] < harvest.clusters.loc["camp", "member_hazard"]
    assert evals.clusters.loc["camp", "member_intent"] < harvest.clusters.loc["camp", "member_intent"]
    assert harvest.clusters.loc["camp", "score"] >= 0.8
    assert evals.clusters.loc["camp", "score"] <= harvest.clusters.loc["camp", "score"] - 0.1
    assert evals.clusters.loc["camp", "score"] < Thresholds().cluster
    # the members' intent weighs in the cluster at (1 - RELAY_DISCOUNT) for a full replay
    member_terms = model.prior.hazards(replayed, relay_discount=False).loc[team]
    intent = member_terms[intent_terms].sum(axis=1)
    assert intent.min() >= 0.5 and intent.max() <= INTENT_CAP
    expected = (intent * (1 - RELAY_DISCOUNT) + member_terms.drop(columns=intent_terms).sum(axis=1)).mean()
    assert evals.clusters.loc["camp", "member_hazard"] == pytest.approx(expected)
    # the campaign term's gate: 0.2 + 0.8 * intent * (1 - RELAY_DISCOUNT * replay)
    gate = GATE_FLOOR + (1 - GATE_FLOOR) * (1 - RELAY_DISCOUNT)
    assert evals.cluster_terms.loc["camp", "template_request_share"] == pytest.approx(
        gate * harvest.cluster_terms.loc["camp", "template_request_share"]
    )
    # the intent still counts in full: the members rank as high as before on their own reasoning requests
    assert model.prior.hazards(replayed).loc[team, intent_terms].to_numpy() == pytest.approx(
        model.prior.hazards(frame).loc[team, intent_terms].to_numpy()
    )


def test_own_terms_from_the_fit_equal_those_scored_afresh() -> None:
    """prepare_scoring takes the anomaly percentiles of the accounts the model was fitted on from the fit."""
    rng = np.random.default_rng(5)
    index = pd.Index([f"acct-{i:03d}" for i in rng.permutation(300)], name="account_id")
    features = pd.DataFrame(rng.normal(size=(300, 6)), columns=[f"f{i}" for i in range(6)], index=index)
    features.iloc[::7, 2] = np.nan
    model = RiskModel().fit(features)
    fresh, from_fit = model.own(features), model.own(features, fitted=True)
    pd.testing.assert_series_equal(from_fit.anomaly_percentile, fresh.anomaly_percentile, check_exact=True)
    assert from_fit.anomaly_percentile.max() > 0.9
    with pytest.raises(ValueError, match="not fitted on"):
        model.anomaly.percentile(features.rename(index=lambda account: account + "-other"), fitted=True)
