"""Shared prompt templates across accounts: MinHash LSH over the slot-masked, hashed tokens of each prompt.

Works from ``token_hashes`` only, so it behaves the same in ``full`` and ``hashed`` retention (and yields nothing
in ``none``).  Prompts whose MinHash signatures collide in any LSH band are near-duplicates; their connected
components are *template families* ("Explain <topic> step by step" for every topic is one family).  A pair's
evidence is, over the families they share, the smaller of their traffic shares on it times the family's rarity
among accounts: about "share of traffic on a common template" times how rare that template is.  Popular prompts
(a benchmark many eval runners send) are rarity-weighted down, and one stray request on a template links nobody.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from detectors.arrays import unique_first_inverse
from detectors.linking.config import LinkingConfig
from detectors.linking.inputs import LinkingInput
from detectors.linking.minhash import U64, band_keys
from detectors.linking.pairs import empty_pairs, log_rarity, share_weighted_pairs


@dataclass(frozen=True, slots=True)
class TemplateIndex:
    """``event_doc[i]``: the distinct masked prompt of event ``i`` (-1: none or too short);
    ``doc_family[d]``: the template family of prompt ``d``."""

    event_doc: npt.NDArray[np.int64]
    doc_family: npt.NDArray[np.int64]

    def event_family(self) -> npt.NDArray[np.int64]:
        family = np.full(len(self.event_doc), -1, dtype=np.int64)
        has_doc = self.event_doc >= 0
        family[has_doc] = self.doc_family[self.event_doc[has_doc]]
        return family


def families(bands: U64) -> npt.NDArray[np.int64]:
    """Connected components of documents linked by any shared band key (numbered from 0)."""
    n_docs, n_bands = bands.shape
    if n_docs == 0:
        return np.empty(0, np.int64)
    keys = bands.ravel()
    docs = np.repeat(np.arange(n_docs, dtype=np.int64), n_bands)
    # any order of the documents within a key chains them all into one component (and components are numbered by
    # their lowest document): no stable sort needed
    order = np.argsort(keys)
    same_key = keys[order][1:] == keys[order][:-1]
    left, right = docs[order][:-1][same_key], docs[order][1:][same_key]
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n_docs, n_docs))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)


def index_templates(data: LinkingInput, config: LinkingConfig) -> TemplateIndex:
    """Merge exact repeats of the events' masked prompts into documents and near-duplicate documents into
    families, from each event's hash and MinHash signature (:mod:`.encoding`)."""
    codes = data.event_codes(config)
    event_doc = np.full(len(codes), -1, dtype=np.int64)
    with_tokens = np.flatnonzero(codes.has_tokens)
    if len(with_tokens) == 0:
        return TemplateIndex(event_doc=event_doc, doc_family=np.empty(0, np.int64))
    _, first, code_of_row = unique_first_inverse(codes.row_hash[with_tokens])
    event_doc[with_tokens] = code_of_row
    doc_family = families(band_keys(codes.signature[with_tokens[first]], config.minhash_bands))
    return TemplateIndex(event_doc=event_doc, doc_family=doc_family)


def template_pairs(data: LinkingInput, index: TemplateIndex, config: LinkingConfig) -> pd.DataFrame:
    family = index.event_family()
    has_family = family >= 0
    if not has_family.any():
        return empty_pairs()
    accounts = data.events["account"].to_numpy()[has_family]
    n = np.int64(data.n_accounts)
    keys, counts = np.unique(family[has_family] * n + accounts, return_counts=True)
    member, fam = keys % n, keys // n
    totals = np.bincount(accounts, minlength=data.n_accounts)
    share = counts / totals[member]
    # a template below this share of an account's prompts cannot make a pair's evidence; dropping it first
    # bounds the pair count of popular templates
    kept = share >= config.min_template_share
    users = pd.Series(fam).value_counts()
    weights = log_rarity(users, int((totals > 0).sum()))
    return share_weighted_pairs(member[kept], fam[kept], share[kept], weights, n_accounts=data.n_accounts,
                                config=config)  # fmt: skip
