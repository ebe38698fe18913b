"""link_accounts on a small procedural population: the campaign is one cluster, the hard negatives are not in it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detectors.events import empty_event_frame
from detectors.linking import EDGE_KINDS, Linking, LinkingConfig, link_accounts
from tests.detectors.linking.linking_frames import frames


@pytest.fixture(scope="module")
def linked() -> tuple[Linking, dict[str, str]]:
    events, accounts, truth = frames(seed=3)
    return link_accounts(events, accounts), truth


def _cluster_of(linking: Linking, kind: str, truth: dict[str, str]) -> pd.Series:
    labels = linking.clusters["cluster_label"]
    return labels[[aid for aid, t in truth.items() if t == kind]]


def test_every_account_gets_exactly_one_cluster(linked: tuple[Linking, dict[str, str]]) -> None:
    linking, truth = linked
    assert set(linking.clusters.index) == set(truth)
    assert linking.clusters["cluster_label"].notna().all()
    assert set(linking.cluster_features.index) == set(linking.clusters["cluster_label"])
    sizes = linking.clusters["cluster_label"].value_counts()
    assert (linking.cluster_features.loc[sizes.index, "size"] == sizes).all()


def test_the_campaign_is_one_cluster_without_hard_negatives(linked: tuple[Linking, dict[str, str]]) -> None:
    linking, truth = linked
    campaign = _cluster_of(linking, "campaign", truth)
    assert campaign.nunique() == 1
    members = linking.clusters.index[linking.clusters["cluster_label"] == campaign.iloc[0]]
    assert {truth[m] for m in members} == {"campaign"}


def test_carrier_nat_users_are_not_glued_together(linked: tuple[Linking, dict[str, str]]) -> None:
    linking, truth = linked
    mobile = _cluster_of(linking, "cgnat", truth)
    sizes = linking.clusters["cluster_label"].value_counts()
    # users of four shared carrier addresses: at most incidental pairs, never one blob
    assert sizes.reindex(mobile.unique()).max() <= 3


def test_a_corporate_org_may_cluster_but_is_labelled_as_one_org(linked: tuple[Linking, dict[str, str]]) -> None:
    linking, truth = linked
    corp = _cluster_of(linking, "corp", truth)
    main = corp.value_counts().index[0]
    features = linking.cluster_features.loc[main]
    assert features["same_org_share"] == pytest.approx(1.0)
    assert set(linking.clusters.index[linking.clusters["cluster_label"] == main]) <= {a for a in corp.index}


def test_edges_carry_kinds_and_per_kind_weights(linked: tuple[Linking, dict[str, str]]) -> None:
    linking, truth = linked
    edges = linking.edges
    assert {"a", "b", "weight", "kinds", *(f"{k}_weight" for k in EDGE_KINDS)} <= set(edges.columns)
    assert (edges["a"] < edges["b"]).all()
    per_kind = edges[[f"{k}_weight" for k in EDGE_KINDS]].sum(axis=1)
    assert np.allclose(per_kind, edges["weight"])
    campaign_edges = edges[edges["a"].map(truth).eq("campaign") & edges["b"].map(truth).eq("campaign")]
    kinds = set("+".join(campaign_edges["kinds"]).split("+"))
    assert {"ip", "payment", "signup", "tls_ua", "template"} <= kinds


def test_evidence_reads_like_an_analyst_summary(linked: tuple[Linking, dict[str, str]]) -> None:
    linking, truth = linked
    label = _cluster_of(linking, "campaign", truth).iloc[0]
    texts = [entry["text"] for entry in linking.evidence[label]]
    assert any("payment fingerprint" in t for t in texts)
    assert any("pool of" in t and "IPs" in t for t in texts)
    assert all({"kind", "text", "value", "stats"} <= set(entry) for entry in linking.evidence[label])
    singletons = linking.cluster_features.index[linking.cluster_features["size"] == 1]
    assert all(linking.evidence[s] == [] for s in singletons)


def test_cluster_features_describe_the_campaign(linked: tuple[Linking, dict[str, str]]) -> None:
    linking, truth = linked
    label = _cluster_of(linking, "campaign", truth).iloc[0]
    row = linking.cluster_features.loc[label]
    assert row["size"] == 8
    assert row["signup_spread_hours"] == pytest.approx(7 * 300 / 3600, abs=0.01)
    assert row["n_payment_fingerprints"] == 2
    assert row["total_requests"] == 8 * 80
    assert row["shared_ips_exclusive"] == row["shared_ips"] > 20


def test_account_risk_gives_the_share_of_high_risk_members() -> None:
    events, accounts, truth = frames(seed=4, cgnat_users=5, benign=5)
    risk = pd.Series({aid: (0.9 if t == "campaign" else 0.1) for aid, t in truth.items()})
    linking = link_accounts(events, accounts, account_risk=risk)
    label = linking.clusters.loc["camp00", "cluster_label"]
    assert linking.cluster_features.loc[label, "share_high_risk_members"] == pytest.approx(1.0)


def test_same_input_same_labels_whatever_the_row_order() -> None:
    events, accounts, _ = frames(seed=5, cgnat_users=10, benign=10)
    first = link_accounts(events, accounts)
    shuffled = events.sample(frac=1.0, random_state=1).reset_index(drop=True)
    second = link_accounts(shuffled, accounts.sample(frac=1.0, random_state=2))
    pd.testing.assert_series_equal(first.clusters["cluster_label"], second.clusters["cluster_label"])
    pd.testing.assert_frame_equal(first.edges, second.edges)


def test_empty_and_metadata_only_inputs() -> None:
    _, accounts, _ = frames(seed=6, cgnat_users=2, benign=2, campaign_size=4, corp_size=2)
    empty = link_accounts(empty_event_frame(), accounts.iloc[:0])
    assert empty.clusters.empty and empty.edges.empty and empty.evidence == {}
    only_metadata = link_accounts(empty_event_frame(), accounts)
    assert set(only_metadata.clusters.index) == set(accounts.index)
    # without a single request, accounts sharing a card are still linked (a sign-up burst alone is not enough)
    labels = only_metadata.clusters["cluster_label"]
    assert labels["camp00"] == labels["camp02"] != labels["camp01"] == labels["camp03"]


def test_a_kind_weighted_zero_is_not_used() -> None:
    events, accounts, _ = frames(seed=7, cgnat_users=5, benign=5)
    weights = {**LinkingConfig().kind_weights, "payment": 0.0}
    linking = link_accounts(events, accounts, config=LinkingConfig(kind_weights=weights))
    assert (linking.edges["payment_weight"] == 0).all()
    assert "payment" not in "+".join(linking.edges["kinds"])


def test_cluster_features_keep_one_schema_whatever_was_measured() -> None:
    events, accounts, truth = frames(seed=8, cgnat_users=5, benign=5)
    risk = pd.Series(0.2, index=list(truth))
    topics = pd.Series(np.arange(len(events)) % 5, index=events.index)
    bare = link_accounts(events, accounts).cluster_features
    full = link_accounts(events, accounts, topics=topics, account_risk=risk).cluster_features
    assert list(bare.columns) == list(full.columns)
    assert bare["union_topic_coverage"].isna().all() and full["union_topic_coverage"].notna().all()
    assert bare["share_high_risk_members"].isna().all() and (full["share_high_risk_members"] == 0).all()
    pd.testing.assert_series_equal(bare.dtypes, full.dtypes)


def test_lockstep_is_measured_against_chance(linked: tuple[Linking, dict[str, str]]) -> None:
    linking, truth = linked
    features = linking.cluster_features
    campaign = features.loc[_cluster_of(linking, "campaign", truth).iloc[0]]
    corp = features.loc[_cluster_of(linking, "corp", truth).value_counts().index[0]]
    assert campaign["lockstep_observed"] > campaign["lockstep_expected"]
    assert campaign["lockstep_share"] >= 0.5
    # ten colleagues working at random times overlap by chance, and that is not lockstep
    assert corp["lockstep_share"] <= 0.2


def test_timestamp_resolution_does_not_matter() -> None:
    events, accounts, _ = frames(seed=9, cgnat_users=5, benign=5)
    coarse_events = events.assign(ts=events["ts"].astype("datetime64[us, UTC]"))
    coarse_accounts = accounts.assign(created_at=accounts["created_at"].astype("datetime64[s, UTC]"))
    first, second = link_accounts(events, accounts), link_accounts(coarse_events, coarse_accounts)
    pd.testing.assert_series_equal(first.clusters["cluster_label"], second.clusters["cluster_label"])
    pd.testing.assert_series_equal(
        first.cluster_features["signup_spread_hours"], second.cluster_features["signup_spread_hours"]
    )
