"""Stable cluster ids across runs: inheritance, growth, merges, splits, determinism."""

from __future__ import annotations

from detectors.linking import cluster_id_for, match_clusters


def members(prefix: str, n: int, start: int = 0) -> set[str]:
    return {f"{prefix}{i}" for i in range(start, start + n)}


def test_unchanged_clusters_keep_their_ids() -> None:
    previous = {"c_old1": members("a", 10), "c_old2": members("b", 5)}
    current = {0: members("a", 10), 1: members("b", 5)}
    matching = match_clusters(previous, current)
    assert matching.ids == {0: "c_old1", 1: "c_old2"}
    assert matching.new == [] and matching.retired == []
    assert matching.merges == {} and matching.splits == {}


def test_a_growing_campaign_keeps_its_id_while_jaccard_would_not() -> None:
    previous = {"c_hydra": members("a", 20)}
    current = {"x": members("a", 18) | members("new", 40)}  # two banned, forty replacements
    assert match_clusters(previous, current).ids["x"] == "c_hydra"
    assert match_clusters(previous, current, measure="jaccard").ids["x"] != "c_hydra"


def test_merge_keeps_the_larger_predecessor_and_records_the_other() -> None:
    previous = {"c_big": members("a", 30), "c_small": members("b", 10)}
    current = {"m": members("a", 30) | members("b", 10)}
    matching = match_clusters(previous, current)
    assert matching.ids["m"] == "c_big"
    assert matching.merges == {"c_big": ["c_small"]}
    assert matching.retired == ["c_small"]


def test_split_gives_the_id_to_the_majority_part_and_records_the_split() -> None:
    previous = {"c_p": members("a", 20)}
    current = {"left": members("a", 12), "right": members("a", 8, start=12)}
    matching = match_clusters(previous, current)
    assert matching.ids["left"] == "c_p"
    assert matching.ids["right"] not in ("c_p",) and matching.ids["right"].startswith("c_")
    assert matching.splits == {"c_p": sorted([matching.ids["left"], matching.ids["right"]])}


def test_a_dissolved_cluster_does_not_hand_its_id_to_a_singleton() -> None:
    previous = {"c_gone": members("a", 10)}
    current = {i: {f"a{i}"} for i in range(10)}
    matching = match_clusters(previous, current)
    assert "c_gone" not in matching.ids.values()
    assert matching.retired == ["c_gone"]


def test_new_ids_are_derived_from_members_and_independent_of_keys_and_order() -> None:
    current_a = {1: members("z", 4), 2: members("y", 3)}
    current_b = {"q": members("y", 3), "p": members("z", 4)}
    ids_a = match_clusters({}, current_a).ids
    ids_b = match_clusters({}, current_b).ids
    assert ids_a[1] == ids_b["p"] == cluster_id_for(members("z", 4))
    assert ids_a[2] == ids_b["q"]
    assert len(set(ids_a.values())) == 2


def test_a_new_id_never_reuses_a_previous_one() -> None:
    same = members("a", 3)
    previous = {cluster_id_for(same): members("other", 5)}
    matching = match_clusters(previous, {0: same})
    assert matching.ids[0] != cluster_id_for(same)


def test_min_overlap_is_respected() -> None:
    previous = {"c_p": members("a", 10)}
    current = {0: members("a", 4) | members("n", 2)}
    assert match_clusters(previous, current, min_overlap=0.5).ids[0] != "c_p"
    assert match_clusters(previous, current, min_overlap=0.4).ids[0] == "c_p"
