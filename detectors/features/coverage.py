"""Query-distribution coverage: how an account's prompts spread over the population's topics.

A distillation sweep asks about everything (high topic entropy and breadth, new topics
keep appearing, a topic mix unlike the population's), concentrates on a few capabilities
(coding, agentic tool use, reasoning), and fills one or a few templates (near-duplicate
prompts once slots are masked).  PRADA-style statistics describe the distances between an
account's successive queries in the embedding space.

Everything works from ``token_hashes`` (``full`` and ``hashed`` retention give the same
values); in ``none`` mode every feature here is NaN.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import clone

from detectors.base import FeatureExtractor, TableSpec, check_events, empty_features
from detectors.features.aggregate import (
    DAY_NS,
    account_codes,
    column,
    normalised_entropy,
    ratio,
    sum_by_account,
    timestamps,
)
from detectors.features.tokens import CAPABILITIES, capability_of_docs, minhash_bands, stable_codes, unique_docs
from detectors.features.topics import TopicModel

__all__ = ["CoverageFeatures", "TopicModel"]

_CAPABILITY_COLUMNS = [f"cap_{name}" for name in CAPABILITIES]


class CoverageFeatures(FeatureExtractor):
    """Topic entropy/breadth/novelty/divergence, capability mix, template structure, PRADA distances.

    ``topic_model``: a fitted :class:`TopicModel` to reuse (kept as is), an unfitted one to
    fit on the events given to :meth:`fit`, or None for the default one.
    """

    feature_names = (
        "topic_entropy",
        "topic_breadth",
        "topic_novelty_per_100_queries",
        "topic_late_novelty_share",
        "topic_divergence",
        "capability_coding_share",
        "capability_agentic_share",
        "capability_reasoning_share",
        "capability_writing_share",
        "capability_concentration",
        "template_repeat_share",
        "near_duplicate_share",
        "successive_distance_mean",
        "successive_distance_cv",
        "successive_distance_nonnormality",
    )

    def __init__(
        self,
        topic_model: TopicModel | None = None,
        minhash_bands: int = 4,
        minhash_rows: int = 2,
        prada_lags: int = 8,
        min_distances: int = 8,
    ) -> None:
        self.topic_model = topic_model
        self.minhash_bands = minhash_bands
        self.minhash_rows = minhash_rows
        self.prada_lags = prada_lags
        self.min_distances = min_distances

    def fit(self, events: pd.DataFrame, accounts: pd.DataFrame | None = None) -> Self:
        check_events(events)
        if self.minhash_bands < 1 or self.minhash_rows < 1 or self.prada_lags < 1:
            raise ValueError("minhash_bands, minhash_rows and prada_lags must be positive")
        model = self.topic_model
        if model is not None and hasattr(model, "centers_"):
            self.topic_model_ = model
        else:
            self.topic_model_ = clone(model) if model is not None else TopicModel()
            self.topic_model_.fit(events)
        self.n_features_out_ = len(self.feature_names)
        return self

    def table_specs(self) -> dict[str, TableSpec]:
        return {
            "coverage_day": TableSpec(("account_id", "day"), {"n_text": "sum", **dict.fromkeys(_CAPABILITY_COLUMNS,
                                                                                            "sum")}),
            "coverage_topic": TableSpec(("account_id", "day", "topic"), {"n": "sum", "first_ts": "min",
                                                                         "last_ts": "max"}),
            "coverage_template": TableSpec(("account_id", "day", "template_key"), {"n": "sum"}),
            "coverage_band": TableSpec(("account_id", "day", "band_key"), {"n": "sum"}),
            "coverage_seq": TableSpec((), {}),
        }

    def partial(self, events: pd.DataFrame) -> dict[str, pd.DataFrame]:
        model = self.topic_model_
        ts = timestamps(events)
        day = ts // DAY_NS
        account = events["account_id"].to_numpy()
        codes, docs = unique_docs(events["token_hashes"])
        topics, embedding = model.transform_docs(docs)
        capability = capability_of_docs(docs)
        bands = minhash_bands(docs, bands=self.minhash_bands, rows=self.minhash_rows)
        text = np.flatnonzero(codes >= 0)
        doc = codes[text]
        acc, d = account[text], day[text]

        event_capability = capability[doc].astype(np.int64)
        tool_use = (np.nan_to_num(column(events, "tools")) > 0)[text]
        event_capability[tool_use] = CAPABILITIES.index("agentic")
        onehot = np.zeros((len(text), len(CAPABILITIES)), dtype=np.int64)
        onehot[np.arange(len(text)), event_capability] = 1
        per_day = pd.DataFrame(onehot, columns=_CAPABILITY_COLUMNS)
        per_day.insert(0, "n_text", 1)
        per_day.insert(0, "day", d)
        per_day.insert(0, "account_id", acc)
        per_day = per_day.groupby(["account_id", "day"], sort=True).sum().reset_index()

        event_topic = topics[doc].astype(np.int64) if len(doc) else np.zeros(0, np.int64)
        has_topic = event_topic >= 0
        topic = pd.DataFrame({"account_id": acc[has_topic], "day": d[has_topic], "topic": event_topic[has_topic],
                              "n": 1, "first_ts": ts[text][has_topic], "last_ts": ts[text][has_topic]})
        topic = topic.groupby(["account_id", "day", "topic"], sort=True).agg(
            n=("n", "sum"), first_ts=("first_ts", "min"), last_ts=("last_ts", "max")).reset_index()

        template_key = stable_codes(events["template_hash"])[text]
        template = _count(pd.DataFrame({"account_id": acc, "day": d, "template_key": template_key}),
                          ["account_id", "day", "template_key"])
        n_bands = bands.shape[1]
        band = _count(pd.DataFrame({"account_id": np.repeat(acc, n_bands), "day": np.repeat(d, n_bands),
                                    "band_key": bands[doc].ravel()}), ["account_id", "day", "band_key"])

        with_vector = has_topic  # an all-unknown-token prompt has no embedding
        vectors = embedding[doc[with_vector]].astype(np.float16)
        sequence = pd.DataFrame(vectors, columns=[f"e{i}" for i in range(vectors.shape[1])])
        sequence.insert(0, "tie", stable_codes(events["token_hashes"])[text][with_vector])
        sequence.insert(0, "ts", ts[text][with_vector])
        sequence.insert(0, "day", d[with_vector])
        sequence.insert(0, "account_id", acc[with_vector])
        return {"coverage_day": per_day, "coverage_topic": topic, "coverage_template": template,
                "coverage_band": band, "coverage_seq": sequence}

    def finalize(
        self, tables: dict[str, pd.DataFrame], accounts: pd.DataFrame, *, now_ns: int | None, index: pd.Index
    ) -> pd.DataFrame:
        out = empty_features(index, self.feature_names)
        per_day = tables.get("coverage_day")
        if per_day is None or per_day.empty:
            return out
        sums = sum_by_account(per_day, ["n_text", *_CAPABILITY_COLUMNS]).reindex(index, fill_value=0)
        shares = sums[_CAPABILITY_COLUMNS].to_numpy(dtype=np.float64) / np.where(
            sums["n_text"].to_numpy() > 0, sums["n_text"].to_numpy(dtype=np.float64), np.nan)[:, None]
        for name in ("coding", "agentic", "reasoning", "writing"):
            out[f"capability_{name}_share"] = shares[:, CAPABILITIES.index(name)]
        out["capability_concentration"] = (shares**2).sum(axis=1)
        out[list(_TOPIC_NAMES)] = _topic_features(tables.get("coverage_topic"), self.topic_model_.n_topics_, index)
        out["template_repeat_share"] = _repeat_share(tables.get("coverage_template"), "template_key", index)
        out["near_duplicate_share"] = _repeat_share(tables.get("coverage_band"), "band_key", index)
        distances = _successive_distances(tables.get("coverage_seq"), self.prada_lags, self.min_distances, index)
        out[distances.columns] = distances
        return out


_TOPIC_NAMES = ("topic_entropy", "topic_breadth", "topic_novelty_per_100_queries", "topic_late_novelty_share",
                "topic_divergence")


def _count(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.groupby(keys, sort=True).size().rename("n").reset_index()


def _repeat_share(table: pd.DataFrame | None, key: str, index: pd.Index) -> pd.Series:
    """1 - distinct keys / items: the share of items repeating an earlier item's key.

    For MinHash band keys (one row per prompt and band, band index mixed into the key)
    this is the mean over bands, i.e. ≈ the share of prompts with a near-duplicate.
    """
    if table is None or table.empty:
        return pd.Series(np.nan, index=index)
    merged = table.groupby(["account_id", key], sort=True)["n"].sum().groupby(level="account_id", sort=True)
    return (1.0 - ratio(merged.size(), merged.sum())).reindex(index)


def _topic_features(table: pd.DataFrame | None, n_topics: int, index: pd.Index) -> pd.DataFrame:
    out = pd.DataFrame(np.nan, index=index, columns=list(_TOPIC_NAMES))
    if table is None or table.empty:
        return out
    merged = table.groupby(["account_id", "topic"], sort=True).agg(
        n=("n", "sum"), first_ts=("first_ts", "min"), last_ts=("last_ts", "max")).reset_index()
    codes, ids = account_codes(merged["account_id"])
    counts = np.zeros((len(ids), n_topics), dtype=np.float64)
    np.add.at(counts, (codes, merged["topic"].to_numpy(dtype=np.int64)), merged["n"].to_numpy(dtype=np.float64))
    totals = counts.sum(axis=1)
    distinct = (counts > 0).sum(axis=1)
    result = pd.DataFrame(index=ids)
    result["topic_entropy"] = normalised_entropy(counts, n_topics)
    result["topic_breadth"] = distinct / n_topics
    result["topic_novelty_per_100_queries"] = 100.0 * distinct / totals
    start = merged.groupby(codes)["first_ts"].transform("min").to_numpy(dtype=np.float64)
    end = merged.groupby(codes)["last_ts"].transform("max").to_numpy(dtype=np.float64)
    span = end - start
    late = (merged["first_ts"].to_numpy(dtype=np.float64) - start) > 0.5 * span
    late_share = pd.Series(late.astype(np.float64)).groupby(codes).mean().to_numpy()
    account_span = pd.Series(span).groupby(codes).max().to_numpy()
    result["topic_late_novelty_share"] = np.where((account_span > 0) & (distinct >= 3), late_share, np.nan)
    result["topic_divergence"] = _js_divergence(counts)
    return result.reindex(index)


def _js_divergence(counts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Jensen-Shannon divergence (bits, 0..1) of each account's topic mix from the mean account's mix."""
    p = counts / counts.sum(axis=1, keepdims=True)
    q = p.mean(axis=0, keepdims=True)
    m = 0.5 * (p + q)

    def kl(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(a > 0, a * np.log2(np.where(a > 0, a, 1.0) / np.where(b > 0, b, 1.0)), 0.0)
        return np.asarray(terms.sum(axis=1), dtype=np.float64)

    return np.clip(0.5 * kl(p, m) + 0.5 * kl(q.repeat(len(p), axis=0), m), 0.0, 1.0)


def _successive_distances(
    sequence: pd.DataFrame | None, lags: int, min_distances: int, index: pd.Index
) -> pd.DataFrame:
    """PRADA-style: each query's cosine distance to the nearest of the account's ``lags`` previous queries.

    Reported per account: mean, coefficient of variation, and a normality deviation
    (Jarque-Bera statistic / n = skew²/6 + excess kurtosis²/24; 0 for a normal sample) —
    PRADA's observation is that benign query streams give roughly normal distances while
    synthetic sweeps do not.
    """
    names = ["successive_distance_mean", "successive_distance_cv", "successive_distance_nonnormality"]
    out = pd.DataFrame(np.nan, index=index, columns=names)
    if sequence is None or sequence.empty:
        return out
    codes, ids = account_codes(sequence["account_id"])
    order = np.lexsort((sequence["tie"].to_numpy(), sequence["ts"].to_numpy(), codes))
    codes = codes[order]
    vectors = sequence[[c for c in sequence.columns if c.startswith("e")]].to_numpy(dtype=np.float32)[order]
    nearest = np.full(len(codes), np.inf)
    for lag in range(1, lags + 1):
        if lag >= len(codes):
            break
        same = codes[lag:] == codes[:-lag]
        similarity = np.einsum("ij,ij->i", vectors[lag:], vectors[:-lag])
        distance = np.where(same, np.clip(1.0 - similarity, 0.0, 2.0), np.inf)
        nearest[lag:] = np.minimum(nearest[lag:], distance)
    has = np.isfinite(nearest)
    frame = pd.DataFrame({"owner": codes[has], "d": nearest[has]})
    grouped = frame.groupby("owner", sort=True)["d"]
    n = grouped.size()
    mean = grouped.mean()
    std = grouped.std(ddof=0)
    centred = frame["d"] - mean.reindex(frame["owner"]).to_numpy()
    m3 = (centred**3).groupby(frame["owner"]).mean()
    m4 = (centred**4).groupby(frame["owner"]).mean()
    variance = std**2
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = m3 / variance**1.5
        kurt = m4 / variance**2 - 3.0
    enough = n >= min_distances
    result = pd.DataFrame(
        {
            "successive_distance_mean": mean.where(enough),
            "successive_distance_cv": ratio(std, mean).where(enough),
            "successive_distance_nonnormality": (skew**2 / 6.0 + kurt**2 / 24.0).where(enough & (variance > 1e-12)),
        }
    )
    result.index = ids[result.index.to_numpy(dtype=np.int64)]
    return result.reindex(index).astype("float64")

