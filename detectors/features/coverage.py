"""Query-distribution coverage: how an account's prompts spread over the population's topics.

A distillation sweep asks about everything (high topic entropy and breadth, new topics
keep appearing, a topic mix unlike the population's), concentrates on a few capabilities
(coding, agentic tool use, reasoning), and fills one or a few templates (near-duplicate
prompts once slots are masked).  PRADA-style statistics describe the distances between an
account's successive queries in the embedding space.

Everything works from ``token_hashes`` (``full`` and ``hashed`` retention give the same
values; with the optional sentence-embedding topic backend the topic and distance features
need ``full``); in ``none`` mode every feature here is NaN.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import clone

from detectors.base import Aggregation, Batch, FeatureExtractor, Kept, TableSpec, check_events, empty_features
from detectors.features.aggregate import (
    column,
    computed_rows,
    normalised_entropy,
    per_account,
    ratio,
    repeat_share,
    sum_by_account,
)
from detectors.features.tokens import CAPABILITIES, capability_of_docs, minhash_bands, stable_codes, unique_docs
from detectors.features.topics import TopicModel

__all__ = ["CoverageFeatures", "TopicModel"]

_CAPABILITY_COLUMNS = [f"cap_{name}" for name in CAPABILITIES]
_CAPABILITY_SUMS: dict[str, Aggregation] = dict.fromkeys(_CAPABILITY_COLUMNS, "sum")
_QUANT = 127.0
# from an account's own query sequence alone (see FeatureExtractor.own_features)
DISTANCE_FEATURES = ("successive_distance_mean", "successive_distance_cv", "successive_distance_nonnormality")
# from an account's own templates and prompts alone
REPEAT_FEATURES = ("template_repeat_share", "near_duplicate_share")


class CoverageFeatures(FeatureExtractor):
    """Topic entropy/breadth/novelty/divergence, capability mix, template structure, PRADA distances.

    ``topic_model``: a fitted :class:`TopicModel` to reuse (kept as is), an unfitted one to
    fit on the events given to :meth:`fit`, or None for the default one.
    """

    own_features = frozenset((*DISTANCE_FEATURES, *REPEAT_FEATURES))
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
            "coverage_day": TableSpec(("account_id", "day"), {"n_text": "sum", **_CAPABILITY_SUMS}),
            "coverage_topic": TableSpec(("account_id", "day", "topic"),
                                        {"n": "sum", "first_ts": "min", "last_ts": "max"}),
            "coverage_template": TableSpec(("account_id", "day", "template_key"), {"n": "sum"}),
            "coverage_band": TableSpec(("account_id", "day", "band_key"), {"n": "sum"}),
            "coverage_seq": TableSpec((), {}),
        }

    def partial(self, batch: Batch) -> dict[str, pd.DataFrame]:
        events, ts, day, account = batch.events, batch.ts, batch.day, batch.account
        codes, docs = batch.cached("docs", lambda: unique_docs(events["token_hashes"]))
        representation = self.topic_model_.represent(events, token_docs=(codes, docs))
        capability = capability_of_docs(docs)
        bands = minhash_bands(docs, bands=self.minhash_bands, rows=self.minhash_rows)
        text = np.flatnonzero(codes >= 0)
        doc = codes[text]
        acc, d = account[text], day[text]

        event_capability = capability[doc].astype(np.int64)
        event_capability[(np.nan_to_num(column(events, "tools")) > 0)[text]] = CAPABILITIES.index("agentic")
        capabilities = {name: (event_capability == i).astype(np.int64) for i, name in enumerate(_CAPABILITY_COLUMNS)}
        per_day = batch.table({"account_id": acc, "day": d},
                              {"n_text": np.ones(len(text), np.int64), **capabilities},
                              self.table_specs()["coverage_day"].aggs)

        event_topic = representation.event_topics()
        has_topic = event_topic >= 0
        topic_rows = np.flatnonzero(has_topic)  # with the sentence backend these need not be text rows above
        vector_of = representation.codes[topic_rows]
        topic = batch.table(
            {"account_id": account[topic_rows], "day": day[topic_rows], "topic": event_topic[topic_rows]},
            {"n": np.ones(len(topic_rows), np.int64), "first_ts": ts[topic_rows], "last_ts": ts[topic_rows]},
            self.table_specs()["coverage_topic"].aggs)

        template_key = batch.cached("template_key", lambda: stable_codes(events["template_hash"]))[text]
        template = batch.table({"account_id": acc, "day": d, "template_key": template_key},
                               {"n": np.ones(len(text), np.int64)}, {"n": "sum"})
        n_bands = bands.shape[1]
        band = batch.table({"account_id": np.repeat(acc, n_bands), "day": np.repeat(d, n_bands),
                            "band_key": bands[doc].ravel()}, {"n": np.ones(len(text) * n_bands, np.int64)},
                           {"n": "sum"})

        # an all-unknown-token prompt has no embedding; unit vectors quantised to int8 (a quarter of float32's
        # memory, cosine error ~1e-2) are plenty for nearest-distance statistics
        vectors = np.rint(representation.vectors[vector_of] * _QUANT).astype(np.int8)
        columns: dict[str, Any] = {"account_id": account[topic_rows], "day": day[topic_rows], "ts": ts[topic_rows],
                                   "tie": representation.keys[vector_of]}
        columns.update({f"e{i}": vectors[:, i] for i in range(vectors.shape[1])})
        sequence = batch.rows(columns)
        return {"coverage_day": per_day, "coverage_topic": topic, "coverage_template": template,
                "coverage_band": band, "coverage_seq": sequence}

    def finalize(self, tables: dict[str, pd.DataFrame], accounts: pd.DataFrame, *, now_ns: int | None,
                 n_accounts: int, kept: Kept | None = None) -> pd.DataFrame:
        out = empty_features(n_accounts, self.feature_names)
        per_day = tables.get("coverage_day")
        if per_day is None or per_day.empty:
            return out
        sums = sum_by_account(per_day, ["n_text", *_CAPABILITY_COLUMNS], n_accounts)
        n_text = sums["n_text"].to_numpy(dtype=np.float64)
        shares = sums[_CAPABILITY_COLUMNS].to_numpy(dtype=np.float64) / np.where(n_text > 0, n_text, np.nan)[:, None]
        for name in ("coding", "agentic", "reasoning", "writing"):
            out[f"capability_{name}_share"] = shares[:, CAPABILITIES.index(name)]
        out["capability_concentration"] = (shares**2).sum(axis=1)
        topic_features = _topic_features(tables.get("coverage_topic"), self.topic_model_.n_topics_, n_accounts)
        out[topic_features.columns] = topic_features
        skip = kept.mask if kept is not None else None
        repeats = pd.DataFrame({
            "template_repeat_share": repeat_share(tables.get("coverage_template"), "template_key", n_accounts,
                                                  skip=skip),
            "near_duplicate_share": repeat_share(tables.get("coverage_band"), "band_key", n_accounts, skip=skip),
        })  # fmt: skip
        distances = _successive_distances(tables.get("coverage_seq"), self.prada_lags, self.min_distances, n_accounts,
                                          skip=skip)  # fmt: skip
        own = pd.concat([repeats, distances], axis=1)
        out[own.columns] = kept.fill(own) if kept is not None else own
        return out


_TOPIC_NAMES = ("topic_entropy", "topic_breadth", "topic_novelty_per_100_queries", "topic_late_novelty_share",
                "topic_divergence")


def _topic_features(table: pd.DataFrame | None, n_topics: int, n_accounts: int) -> pd.DataFrame:
    out = pd.DataFrame(np.nan, index=pd.RangeIndex(n_accounts), columns=list(_TOPIC_NAMES))
    if table is None or table.empty:
        return out
    merged = table.groupby(["account", "topic"], sort=True).agg(
        n=("n", "sum"), first_ts=("first_ts", "min"), last_ts=("last_ts", "max")).reset_index()
    owner = merged["account"].to_numpy(dtype=np.int64)
    counts = np.zeros((n_accounts, n_topics), dtype=np.float64)
    # one row per (account, topic): an assignment, not np.add.at's slow accumulation
    counts[owner, merged["topic"].to_numpy(dtype=np.int64)] = merged["n"].to_numpy(dtype=np.float64)
    totals = counts.sum(axis=1)
    has = totals > 0
    distinct = (counts > 0).sum(axis=1)
    out["topic_entropy"] = normalised_entropy(counts, n_topics)
    out["topic_breadth"] = np.where(has, distinct / n_topics, np.nan)
    out["topic_novelty_per_100_queries"] = np.where(has, 100.0 * distinct / np.where(has, totals, 1.0), np.nan)
    by_owner = merged.groupby(owner)
    start = by_owner["first_ts"].transform("min").to_numpy(dtype=np.float64)
    end = by_owner["last_ts"].transform("max").to_numpy(dtype=np.float64)
    late = (merged["first_ts"].to_numpy(dtype=np.float64) - start) > 0.5 * (end - start)
    late_share = per_account(pd.Series(late.astype(np.float64)).groupby(owner).mean(), n_accounts).to_numpy()
    span = per_account(pd.Series(end - start).groupby(owner).max(), n_accounts).to_numpy()
    out["topic_late_novelty_share"] = np.where((span > 0) & (distinct >= 3), late_share, np.nan)
    divergence = np.full(n_accounts, np.nan)
    divergence[has] = _js_divergence(counts[has])
    out["topic_divergence"] = divergence
    return out


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
    sequence: pd.DataFrame | None, lags: int, min_distances: int, n_accounts: int,
    skip: npt.NDArray[np.bool_] | None = None,
) -> pd.DataFrame:  # fmt: skip
    """PRADA-style: each query's cosine distance to the nearest of the account's ``lags`` previous queries.

    Reported per account: mean, coefficient of variation, and a normality deviation
    (Jarque-Bera statistic / n = skew²/6 + excess kurtosis²/24; 0 for a normal sample) -
    PRADA's observation is that benign query streams give roughly normal distances while
    synthetic sweeps do not.

    ``skip``: account positions left NaN (their rows are not read), each account's figures depending on its own rows
    alone.
    """
    names = list(DISTANCE_FEATURES)
    out = pd.DataFrame(np.nan, index=pd.RangeIndex(n_accounts), columns=names)
    if sequence is None or sequence.empty:
        return out
    account = sequence["account"].to_numpy(dtype=np.int64)
    tie, ts = sequence["tie"].to_numpy(), sequence["ts"].to_numpy()
    rows = computed_rows(account, skip)
    if rows is None:
        order = np.lexsort((tie, ts, account))
    elif len(rows) == 0:
        return out
    else:
        order = rows[np.lexsort((tie[rows], ts[rows], account[rows]))]
    codes = account[order]
    # gathered as the stored int8 and converted after: a quarter of the bytes to move
    vectors = sequence[[c for c in sequence.columns if c.startswith("e")]].to_numpy().take(order, axis=0)
    vectors = vectors.astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors /= np.where(norms > 0, norms, 1.0)
    nearest = np.full(len(codes), np.inf)
    for lag in range(1, min(lags, len(codes) - 1) + 1):
        same = codes[lag:] == codes[:-lag]
        similarity = np.einsum("ij,ij->i", vectors[lag:], vectors[:-lag])
        distance = np.where(same, np.clip(1.0 - similarity, 0.0, 2.0), np.inf)
        nearest[lag:] = np.minimum(nearest[lag:], distance)
    has = np.isfinite(nearest)
    owner, d = codes[has], nearest[has]
    grouped = pd.Series(d).groupby(owner, sort=True)
    n = grouped.size()
    mean = grouped.mean()
    std = grouped.std(ddof=0)
    centred = pd.Series(d - mean.reindex(owner).to_numpy())
    m3 = (centred**3).groupby(owner).mean()
    m4 = (centred**4).groupby(owner).mean()
    variance = std**2
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = m3 / variance**1.5
        kurt = m4 / variance**2 - 3.0
    enough = n >= min_distances
    out["successive_distance_mean"] = per_account(mean.where(enough), n_accounts)
    out["successive_distance_cv"] = per_account(ratio(std, mean).where(enough), n_accounts)
    out["successive_distance_nonnormality"] = per_account(
        (skew**2 / 6.0 + kurt**2 / 24.0).where(enough & (variance > 1e-12)), n_accounts)
    return out
