"""The building blocks of linking: pair generation, rarity, bursts, token parsing, templates, synchrony, graph."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detectors.events import to_event_frame
from detectors.linking import LinkingConfig
from detectors.linking.bursts import find_bursts
from detectors.linking.communities import detect_communities, pseudo_diameter
from detectors.linking.inputs import prepare
from detectors.linking.pairs import group_pairs, log_rarity, rarity, resource_pairs
from detectors.linking.synchrony import sync_pairs
from detectors.linking.templates import index_templates, template_pairs
from detectors.linking.tokens import _slow_tokens, event_tokens
from detectors.text import text_signals


def test_small_groups_yield_all_pairs_and_large_ones_a_bounded_connected_ring() -> None:
    groups = np.array([0, 0, 0, 1, 1] + [2] * 200, dtype=np.int64)
    members = np.array([5, 3, 9, 1, 2, *range(100, 300)], dtype=np.int64)
    i, j = group_pairs(groups, members, max_group_size=50, degree=3, seed=0)
    a, b = members[i], members[j]
    assert (a < b).all()
    small = {(int(x), int(y)) for x, y in zip(a, b, strict=True) if x < 100}
    assert small == {(3, 5), (3, 9), (5, 9), (1, 2)}
    big = [(int(x), int(y)) for x, y in zip(a, b, strict=True) if x >= 100]
    assert 200 * 2 < len(big) <= 200 * 3 and len(set(big)) == len(big)  # about n * degree, not n(n-1)/2
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    rows, cols = np.array(big).T - 100
    graph = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(200, 200))
    n_components, _ = connected_components(graph)
    assert n_components == 1
    import igraph as ig

    assert pseudo_diameter(ig.Graph(n=200, edges=list(zip(rows.tolist(), cols.tolist(), strict=True)))) <= 8


def test_rarity_weights_fall_with_the_number_of_users() -> None:
    users = pd.Series([1, 2, 3, 300])
    assert rarity(users).tolist() == pytest.approx([0.0, 1.0, 0.5, 1 / 299])
    idf = log_rarity(users, 10_000)
    assert idf.is_monotonic_decreasing and idf.iloc[0] == pytest.approx(1.0) and 0 < idf.iloc[3] < 0.5


def test_a_resource_seen_in_several_windows_counts_once_per_pair() -> None:
    memberships = pd.DataFrame(
        {"account": [0, 1, 0, 1, 0, 2], "group": [0, 0, 1, 1, 2, 2], "resource": [7, 7, 7, 7, 8, 8]}
    )
    pairs = resource_pairs(memberships, pd.Series({7: 1.0, 8: 0.25}), n_accounts=3, max_group_size=10, degree=2, seed=0)
    assert pairs.set_index(["a", "b"])["raw"].to_dict() == {(0, 1): 1.0, (0, 2): 0.25}


def test_a_burst_is_judged_against_its_own_key_rate() -> None:
    rng = np.random.default_rng(0)
    span = 30 * 86400.0
    steady = rng.uniform(0, span, size=3000)  # a busy provider: ~4 sign-ups an hour, all month
    burst = 10 * 86400 + rng.uniform(0, 1800, size=25)  # 25 look-alike accounts in half an hour
    times = np.concatenate([steady, burst])
    keys = np.concatenate([np.zeros(3000, np.int64), np.ones(25, np.int64)])
    burst_of_row, bursts = find_bursts(times, keys, window=7200.0, span=span, min_size=3)
    assert (burst_of_row[3000:] >= 0).all() and len(set(burst_of_row[3000:])) == 1
    assert (burst_of_row[:3000] >= 0).mean() < 0.01
    assert bursts["raw"].max() > 1.0


def _signals(texts: list[str | None]) -> pd.Series:
    return pd.Series([text_signals(t)["token_hashes"] if t else None for t in texts], dtype="string")


def test_fast_token_parsing_matches_the_slow_path() -> None:
    series = _signals(["explain the theory of everything step by step please", None, "hi", "a b c d e f g h"])
    fast = event_tokens(series, min_tokens=3)
    slow = _slow_tokens(series, min_tokens=3)
    assert fast[2].tolist() == slow[2].tolist() == [9, 0, 0, 0]  # single letters are not tokens
    np.testing.assert_array_equal(fast[1], slow[1])
    # values differ in encoding but identify the same tokens
    assert len(set(fast[0].tolist())) == len(set(slow[0].tolist()))
    malformed = pd.Series(["abc defghij k", "1234567 89"], dtype="string")
    assert event_tokens(malformed, min_tokens=1)[2].tolist() == [3, 2]


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    return to_event_frame(rows, "hashed")


def test_near_duplicate_prompts_form_one_template_family_across_accounts() -> None:
    topics = ["graph theory", "tax law", "optics", "ecology", "compilers", "game theory"]
    rows = []
    for k, topic in enumerate(topics * 4):
        account = f"a{k % 3}"
        text = f"Articulate the reasoning behind {topic} step by step and list every assumption you make on the way"
        rows.append({"request_id": f"r{k}", "account_id": account, "ts": 1_790_000_000 + k, "prompt": text})
    rows.append({"request_id": "x", "account_id": "a9", "ts": 1_790_000_000, "prompt": "what should I cook tonight"})
    data = prepare(_frame(rows), None, None)
    index = index_templates(data, LinkingConfig())
    family = index.event_family()
    assert len(set(family[:-1].tolist())) == 1 and family[-1] != family[0]
    pairs = template_pairs(data, index, LinkingConfig())
    linked = {(data.account_ids[a], data.account_ids[b]) for a, b in zip(pairs["a"], pairs["b"], strict=True)}
    assert linked == {("a0", "a1"), ("a0", "a2"), ("a1", "a2")}


def test_lockstep_accounts_are_synchronized_and_office_hours_are_not() -> None:
    rng = np.random.default_rng(1)
    rows = []
    ticks = 1_790_000_000 + np.arange(0, 5 * 86400, 900)
    for account in ("bot1", "bot2"):
        for tick in ticks[rng.random(len(ticks)) < 0.5]:
            rows.append({"account_id": account, "ts": float(tick + abs(rng.normal(0, 40)))})
    for account in ("office1", "office2"):
        for day in range(5):
            for ts in 1_790_000_000 + day * 86400 + 9 * 3600 + rng.uniform(0, 8 * 3600, size=60):
                rows.append({"account_id": account, "ts": float(ts)})
    for k, row in enumerate(rows):
        row["request_id"] = f"r{k}"
    data = prepare(_frame(rows), None, None)
    code = {name: i for i, name in enumerate(data.account_ids)}
    candidates = pd.DataFrame({"a": [code["bot1"], code["office1"]], "b": [code["bot2"], code["office2"]]})
    scored = sync_pairs(data, candidates, LinkingConfig()).set_index(["a", "b"])["raw"]
    assert scored.get((code["bot1"], code["bot2"]), 0.0) > 0.5
    assert scored.get((code["office1"], code["office2"]), 0.0) < 0.3


def test_a_long_chain_is_cut_by_the_diameter_guard_and_communities_are_deterministic() -> None:
    n = 40
    chain = pd.DataFrame({"a": np.arange(n - 1), "b": np.arange(1, n), "weight": np.ones(n - 1)})
    config = LinkingConfig(max_diameter=6, resolution=0.05)
    labels = detect_communities(n + 2, chain, config)
    assert labels[n] != labels[n + 1]  # isolated nodes are singletons
    sizes = np.bincount(labels)
    assert sizes.max() <= 7 + 1
    again = detect_communities(n + 2, chain, config)
    np.testing.assert_array_equal(labels, again)
    import igraph as ig

    assert pseudo_diameter(ig.Graph(n=5, edges=[(0, 1), (1, 2), (2, 3), (3, 4)])) == 4


def test_complementary_coverage_scores_a_sharded_sweep_not_chance_disjointness() -> None:
    rng = np.random.default_rng(2)
    rows, topics = [], []
    for k in range(40):  # background: each account asks about 8 of 24 topics, popular ones more often
        for topic in rng.choice(24, size=8, replace=False, p=np.linspace(2, 1, 24) / np.linspace(2, 1, 24).sum()):
            rows.append({"account_id": f"u{k:02d}", "ts": 1_790_000_000.0 + len(rows)})
            topics.append(int(topic))
    for name, shard in (("shardA", range(0, 24, 2)), ("shardB", range(1, 24, 2))):
        for topic in shard:  # two accounts splitting one sweep: 12 topics each, none in common
            rows.append({"account_id": name, "ts": 1_790_000_000.0 + len(rows)})
            topics.append(topic)
    for k, row in enumerate(rows):
        row["request_id"] = f"r{k}"
    events = _frame(rows)
    data = prepare(events, None, pd.Series(topics, index=events.index))
    code = {name: i for i, name in enumerate(data.account_ids)}
    background = [(code[f"u{k:02d}"], code[f"u{k + 1:02d}"]) for k in range(0, 38, 2)]
    candidates = pd.DataFrame([(code["shardA"], code["shardB"]), *background], columns=["a", "b"])
    from detectors.linking.coverage import coverage_pairs

    scored = coverage_pairs(data, candidates, LinkingConfig()).set_index(["a", "b"])["raw"]
    assert scored.get((code["shardA"], code["shardB"]), 0.0) > 1.0
    chance = [scored.get(pair, 0.0) for pair in background]
    assert np.mean(chance) < 0.2
