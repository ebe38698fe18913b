"""The three yardstick baselines on tiny hand-built event frames (PRADA checked against scipy)."""

from __future__ import annotations

import pickle
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from detectors.baselines import (
    BASELINES,
    IpSharingBaseline,
    PradaBaseline,
    VolumeBaseline,
    baseline_flags,
    baseline_scores,
    hashed_vectors,
    shapiro_w,
    successive_min_distances,
)
from detectors.events import empty_event_frame, to_event_frame
from detectors.text import token_hash, tokens

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo"]


def _event(i: int, account: str, text: str = "hello there", ip: str | None = "192.0.2.1") -> dict[str, Any]:
    return {
        "request_id": f"r{i:04d}",
        "account_id": account,
        "ts": 1_790_000_000 + 60 * i,
        "ip": ip,
        "messages": [{"role": "user", "content": text}],
    }


def _prompt(rng: np.random.Generator, length: int) -> str:
    return " ".join(rng.choice(WORDS, size=length).tolist())


def test_volume_counts_requests_per_account() -> None:
    frame = to_event_frame([_event(0, "a"), _event(1, "a"), _event(2, "b"), _event(3, "a")])
    out = VolumeBaseline().fit_transform(frame)
    assert out["request_count"].to_dict() == {"a": 3.0, "b": 1.0}
    assert list(out.columns) == list(VolumeBaseline().fit(frame).get_feature_names_out())


def test_ip_sharing_is_the_most_shared_address_of_the_account() -> None:
    events = [
        _event(0, "a", ip="192.0.2.1"), _event(1, "b", ip="192.0.2.1"), _event(2, "c", ip="192.0.2.1"),
        _event(3, "a", ip="198.51.100.7"), _event(4, "d", ip="198.51.100.7"), _event(5, "e", ip="203.0.113.9"),
        _event(6, "f", ip=None),
    ]  # fmt: skip
    out = IpSharingBaseline().fit_transform(to_event_frame(events))["ip_max_accounts_sharing"]
    assert out.drop("f").to_dict() == {"a": 3.0, "b": 3.0, "c": 3.0, "d": 2.0, "e": 1.0}
    assert np.isnan(out["f"])


def test_hashed_vectors_and_successive_min_distances_by_hand() -> None:
    vectors = hashed_vectors(["000001 000001 000002", "", "000004"], n_features=4)
    np.testing.assert_allclose(vectors[0], np.array([0.0, 2.0, 1.0, 0.0]) / np.sqrt(5.0))
    np.testing.assert_allclose(vectors[1], np.zeros(4))
    np.testing.assert_allclose(vectors[2], [1.0, 0.0, 0.0, 0.0])
    distances = successive_min_distances(np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0], [3.0, 4.0]]))
    np.testing.assert_allclose(distances, [5.0, 1.0, 0.0])
    assert successive_min_distances(np.zeros((1, 3))).size == 0


def test_shapiro_w_is_scipys_statistic() -> None:
    sample = np.random.default_rng(0).gamma(2.0, size=40)
    assert shapiro_w(sample) == pytest.approx(stats.shapiro(sample).statistic, abs=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert shapiro_w(np.full(10, 0.3)) == 1.0  # scipy would warn; a constant sample flags nothing
    assert shapiro_w(np.array([1.0, 2.0])) == 1.0


def test_prada_risk_is_one_minus_w_of_the_accounts_distance_stream() -> None:
    rng = np.random.default_rng(1)
    texts = [_prompt(rng, int(rng.integers(3, 9))) for _ in range(30)]
    events = [_event(i, "a", t) for i, t in enumerate(texts)] + [_event(100 + i, "b") for i in range(5)]
    out = PradaBaseline(n_features=64, min_queries=20).fit_transform(to_event_frame(events))["prada_risk"]
    hashes = [" ".join(token_hash(t) for t in tokens(text)) for text in texts]
    expected = 1.0 - stats.shapiro(successive_min_distances(hashed_vectors(hashes, 64))).statistic
    assert out["a"] == pytest.approx(expected, abs=1e-9)
    assert np.isnan(out["b"])  # too few queries to judge


def test_prada_separates_a_systematic_sweep_from_a_wandering_user() -> None:
    rng = np.random.default_rng(2)
    # a sweep: one template, one slot walking through values → near-constant, tiny distances with jumps
    sweep = [f"explain the concept number {WORDS[i % 11]} {WORDS[(i // 11) % 11]} in detail" for i in range(60)]
    human = [_prompt(rng, int(rng.integers(2, 12))) for _ in range(60)]
    events = [_event(i, "sweep", t) for i, t in enumerate(sweep)] + [_event(200 + i, "human", t) for i, t in
                                                                       enumerate(human)]  # fmt: skip
    out = PradaBaseline().fit_transform(to_event_frame(events))["prada_risk"]
    assert out["sweep"] > out["human"]


def test_baselines_keep_the_estimator_contract() -> None:
    rng = np.random.default_rng(3)
    events = [_event(i, f"acct{i % 3}", _prompt(rng, 5), ip=f"192.0.2.{i % 4}") for i in range(90)]
    frame = to_event_frame(events)
    shuffled = frame.sample(frac=1.0, random_state=0)
    for name, cls in BASELINES.items():
        estimator = cls()
        assert estimator.fit(frame) is estimator
        first = estimator.transform(frame)
        pd.testing.assert_frame_equal(first, cls().fit_transform(shuffled), obj=name)
        pd.testing.assert_frame_equal(first, pickle.loads(pickle.dumps(estimator)).transform(frame), obj=name)
        assert cls().fit_transform(empty_event_frame()).empty
        assert first.index.name == "account_id" and list(first.index) == ["acct0", "acct1", "acct2"]
    with pytest.raises(ValueError):
        PradaBaseline(min_queries=2).fit(frame)


def test_prada_needs_text_signals_and_is_nan_without_them() -> None:
    rng = np.random.default_rng(4)
    events = [_event(i, "a", _prompt(rng, 6)) for i in range(40)]
    assert PradaBaseline().fit_transform(to_event_frame(events, "none"))["prada_risk"].isna().all()
    assert PradaBaseline().fit_transform(to_event_frame(events, "hashed"))["prada_risk"].notna().all()


def test_baseline_flags_apply_each_textbook_rule() -> None:
    volume = pd.Series([10.0, 12.0, 9.0, 11.0, 10.0, 500.0], index=list("abcdef"))
    assert baseline_flags("volume", volume).tolist() == [False] * 5 + [True]
    prada = pd.Series([0.02, 0.2, np.nan])
    assert baseline_flags("prada", prada).tolist() == [False, True, False]
    sharing = pd.Series([1.0, 4.0, 5.0, 300.0])
    assert baseline_flags("ip_sharing", sharing).tolist() == [False, False, True, True]
    with pytest.raises(KeyError):
        baseline_flags("nope", sharing)


def test_baseline_scores_has_one_column_per_baseline() -> None:
    frame = to_event_frame([_event(i, "a" if i % 2 else "b") for i in range(6)])
    table = baseline_scores(frame)
    assert list(table.columns) == list(BASELINES) and list(table.index) == ["a", "b"]
