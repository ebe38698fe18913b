"""Shared prompt templates across accounts: MinHash LSH over the slot-masked, hashed tokens of each prompt.

Works from ``token_hashes`` only, so it behaves the same in ``full`` and ``hashed`` retention (and yields nothing
in ``none``).  Each LSH band key is a resource; a pair's evidence is, over the bands they share, the smaller of
their traffic shares times the key's rarity, divided by the number of bands: about "share of traffic on a common
template" times how rare that template is among accounts.  Popular prompts (a benchmark many eval runners send) are
rare-weighted down, and one stray request on a template links nobody.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from detectors.linking.config import LinkingConfig
from detectors.linking.inputs import LinkingInput
from detectors.linking.minhash import U64, band_keys, combine, signatures
from detectors.linking.pairs import empty_pairs, log_rarity, resource_pairs

_HEX_WIDTH = 6


@dataclass(frozen=True, slots=True)
class TemplateIndex:
    """``event_doc[i]``: the distinct masked prompt of event ``i`` (-1: none or too short);
    ``doc_bands[d]``: the LSH band keys of prompt ``d``."""

    event_doc: npt.NDArray[np.int64]
    doc_bands: U64


def _parse_tokens(docs: pd.Index) -> tuple[U64, npt.NDArray[np.int64]]:
    """Token values and the doc of each token, parsing the fixed-width hex tokens without a Python loop."""
    texts = docs.astype(str)
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    if len(texts) and np.all((lengths + 1) % (_HEX_WIDTH + 1) == 0):
        raw = np.frombuffer((" ".join(texts) + " ").encode("ascii", "replace"), dtype=np.uint8)
        cells = raw.reshape(-1, _HEX_WIDTH + 1)[:, :_HEX_WIDTH]
        digits = np.where(cells >= ord("a"), cells - ord("a") + 10, cells - ord("0")).astype(np.uint64)
        if np.all(digits < 16):
            values = np.zeros(len(cells), dtype=np.uint64)
            for column in range(_HEX_WIDTH):
                values = (values << np.uint64(4)) | digits[:, column]
            counts = (lengths + 1) // (_HEX_WIDTH + 1)
            return values, np.repeat(np.arange(len(texts), dtype=np.int64), counts)
    values_list: list[int] = []
    doc_list: list[int] = []
    for doc, text in enumerate(texts):
        for token in text.split():
            values_list.append(int.from_bytes(token.encode()[:8].ljust(8, b"\0"), "little"))
            doc_list.append(doc)
    return np.array(values_list, dtype=np.uint64), np.array(doc_list, dtype=np.int64)


def _shingles(tokens: U64, token_doc: npt.NDArray[np.int64], size: int) -> tuple[U64, npt.NDArray[np.int64]]:
    if len(tokens) < size:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    valid = np.ones(len(tokens) - size + 1, dtype=bool)
    shingle = tokens[: len(valid)].copy()
    for offset in range(1, size):
        valid &= token_doc[offset : offset + len(valid)] == token_doc[: len(valid)]
        shingle = combine(shingle, tokens[offset : offset + len(valid)])
    return shingle[valid], token_doc[: len(valid)][valid]


def index_templates(data: LinkingInput, config: LinkingConfig) -> TemplateIndex:
    texts = data.events["token_hashes"]
    n_tokens = (texts.str.len().fillna(0).astype(np.int64) + 1) // (_HEX_WIDTH + 1)
    usable = texts.where(n_tokens >= config.min_template_tokens)
    codes, docs = pd.factorize(usable, use_na_sentinel=True)
    tokens, token_doc = _parse_tokens(pd.Index(docs))
    shingles, shingle_doc = _shingles(tokens, token_doc, config.shingle_size)
    signature = signatures(shingles, shingle_doc, len(docs), n_perm=config.minhash_permutations, seed=config.seed)
    return TemplateIndex(event_doc=codes.astype(np.int64), doc_bands=band_keys(signature, config.minhash_bands))


def template_pairs(data: LinkingInput, index: TemplateIndex, config: LinkingConfig) -> pd.DataFrame:
    has_doc = index.event_doc >= 0
    if not has_doc.any():
        return empty_pairs()
    accounts = data.events["account"].to_numpy()[has_doc]
    docs = index.event_doc[has_doc]
    per_doc = pd.DataFrame({"account": accounts, "doc": docs}).value_counts().rename("n").reset_index()
    totals = pd.Series(accounts).value_counts()
    per_doc["share"] = per_doc["n"] / totals.reindex(per_doc["account"]).to_numpy()
    bands = index.doc_bands.shape[1]
    rows = np.repeat(np.arange(len(per_doc)), bands)
    keys = index.doc_bands[per_doc["doc"].to_numpy()].ravel()
    resource, _ = pd.factorize(keys)
    memberships = (
        pd.DataFrame({"account": per_doc["account"].to_numpy()[rows], "resource": resource,
                      "share": per_doc["share"].to_numpy()[rows]})
        .groupby(["resource", "account"], as_index=False).agg(share=("share", "sum"))
    )  # fmt: skip
    memberships["share"] = memberships["share"].clip(upper=1.0)
    memberships["group"] = memberships["resource"]
    users = memberships.groupby("resource")["account"].size()
    weights = log_rarity(users, len(totals)) / bands
    return resource_pairs(
        memberships,
        weights,
        n_accounts=data.n_accounts,
        max_group_size=config.max_group_size,
        degree=config.sparse_degree,
        seed=config.seed,
        share_column="share",
    )


def template_families(index: TemplateIndex, docs: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A family label for each of ``docs``: prompts linked through any shared band key (for evidence text)."""
    if len(docs) == 0:
        return np.empty(0, np.int64)
    bands = index.doc_bands[docs]
    keys, key_codes = np.unique(bands.ravel(), return_inverse=True)
    n_docs = len(docs)
    rows = np.repeat(np.arange(n_docs), bands.shape[1])
    graph = coo_matrix(
        (np.ones(len(rows)), (rows, n_docs + key_codes.ravel())), shape=(n_docs + len(keys), n_docs + len(keys))
    )
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels[:n_docs], dtype=np.int64)
