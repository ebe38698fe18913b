"""A text representation fitted on the whole population, and its global topic clusters.

Default backend, all fitted on the distinct prompts of the population (so a campaign that
repeats one template ten thousand times does not get ten thousand votes): TF-IDF over
hashed tokens (sub-linear term frequency, L2-normalised) → TruncatedSVD → unit-length
embeddings → k-means topics assigned by cosine similarity.

Works from ``token_hashes`` only, so the ``full`` and ``hashed`` retention modes give the
same topics; in ``none`` mode there is no text and every event gets topic -1.

The model is population-relative state: fit it once on a representative window, reuse it
for incremental updates (:class:`detectors.features.state.FeatureState` keeps the
instance it was built with), and refit — with a full recompute — when the traffic mix
has drifted.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.utils.validation import check_is_fitted

from detectors.features.tokens import Docs, stable_codes, unique_docs

_MAX_KMEANS_POINTS = 20_000
_MAX_VOCABULARY = 1 << 17


class TopicModel(BaseEstimator):  # type: ignore[misc]
    """TF-IDF(hashed tokens) → SVD embedding → k-means topics.

    Parameters: ``n_topics`` clusters (fewer if the population has fewer distinct
    prompts), ``n_components`` SVD dimensions, ``min_df`` minimum number of distinct
    prompts a token must occur in, ``max_fit_docs`` cap on distinct prompts used for
    fitting (a deterministic hash-chosen subset beyond it).
    """

    def __init__(
        self,
        n_topics: int = 40,
        n_components: int = 32,
        min_df: int = 1,
        max_fit_docs: int = 40_000,
        random_state: int = 0,
    ) -> None:
        self.n_topics = n_topics
        self.n_components = n_components
        self.min_df = min_df
        self.max_fit_docs = max_fit_docs
        self.random_state = random_state

    # ---- fitting ---------------------------------------------------------------------------------
    def fit(self, events: pd.DataFrame, y: Any = None) -> Self:
        token_hashes = events["token_hashes"] if "token_hashes" in events else pd.Series([], dtype="string")
        _, docs = unique_docs(token_hashes, sort=True)
        return self.fit_docs(docs)

    def fit_docs(self, docs: Docs) -> Self:
        if self.n_topics < 1 or self.n_components < 1 or self.min_df < 1 or self.max_fit_docs < 1:
            raise ValueError("n_topics, n_components, min_df and max_fit_docs must be positive")
        if len(docs) > self.max_fit_docs:
            # the subset depends only on the texts, never on row order
            keep = np.sort(np.argsort(stable_codes(pd.Series(docs.texts)), kind="stable")[: self.max_fit_docs])
            docs = _subset(docs, keep)
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
        embedding = self._embed(tfidf)
        distinct = np.unique(embedding[np.linalg.norm(embedding, axis=1) > 0].round(6), axis=0)
        n_topics = max(1, min(self.n_topics, len(distinct)))
        if len(distinct) >= 2 and n_topics >= 2:
            points = embedding[np.linalg.norm(embedding, axis=1) > 0]
            if len(points) > _MAX_KMEANS_POINTS:  # centres of 40 clusters are well placed by 20k points
                points = points[np.random.default_rng(self.random_state).choice(len(points), _MAX_KMEANS_POINTS,
                                                                                  replace=False)]
            kmeans = KMeans(n_clusters=n_topics, random_state=self.random_state, n_init=2, max_iter=100)
            kmeans.fit(points)
            centers = kmeans.cluster_centers_
        else:
            centers = distinct[:1] if len(distinct) else np.ones((1, embedding.shape[1]))
        norms = np.linalg.norm(centers, axis=1, keepdims=True)
        self.centers_ = (centers / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        self.n_topics_ = len(self.centers_)
        return self

    # ---- transforming ----------------------------------------------------------------------------
    def transform_events(self, events: pd.DataFrame) -> pd.Series:
        """Topic id per event (index = events.index), -1 where the event has no text."""
        check_is_fitted(self, "centers_")
        token_hashes = events["token_hashes"] if "token_hashes" in events else pd.Series(
            [None] * len(events), index=events.index, dtype="string")
        codes, docs = unique_docs(token_hashes)
        topics, _ = self.transform_docs(docs)
        per_event = np.where(codes >= 0, topics[np.clip(codes, 0, None)] if len(topics) else -1, -1)
        return pd.Series(per_event.astype(np.int64), index=events.index, name="topic")

    def transform_docs(self, docs: Docs) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        """(topic per document, -1 when none of its tokens is in the vocabulary; unit embeddings)."""
        check_is_fitted(self, "centers_")
        embedding = self._embed(self._tfidf(docs))
        if not len(embedding):
            return np.zeros(0, dtype=np.int32), embedding
        topics = (embedding @ self.centers_.T).argmax(axis=1).astype(np.int32)
        topics[np.linalg.norm(embedding, axis=1) == 0] = -1
        return topics, embedding

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
    pairs = np.unique(docs.doc_of_token.astype(np.uint64) << np.uint64(32) | docs.ids.astype(np.uint64))
    terms = (pairs & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    values, counts = np.unique(terms, return_counts=True)
    return values, counts.astype(np.int64)


def _subset(docs: Docs, keep: npt.NDArray[np.int64]) -> Docs:
    lengths = docs.lengths[keep]
    token_index = np.concatenate([np.arange(docs.offsets[i], docs.offsets[i + 1]) for i in keep]) if len(keep) else (
        np.zeros(0, dtype=np.int64))
    return Docs(docs.texts[keep], docs.ids[token_index], np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
