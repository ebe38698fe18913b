"""MinHash signatures and LSH band keys over integer item sets, vectorised with numpy.

Used for prompt templates (items: hashed token shingles) and for synchronized activity (items: active time
buckets).  Hashes are 64-bit and seeded, so signatures are identical in every process.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def splitmix64(values: U64) -> U64:
    """A well-mixed 64-bit hash of each value (Steele et al.'s SplitMix64 finaliser)."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


def combine(left: U64, right: U64) -> U64:
    with np.errstate(over="ignore"):
        return splitmix64(left * np.uint64(0x100000001B3) ^ right)


def signatures(items: U64, docs: npt.NDArray[np.int64], n_docs: int, *, n_perm: int, seed: int) -> U32:
    """``(n_docs, n_perm)`` MinHash signatures; a document without items keeps the all-ones signature.

    Items are mixed once to 32 bits; each permutation is then a random odd multiply-add modulo 2**32 (a
    universal hash family), two cheap operations per item and permutation instead of a full mix.
    """
    out = np.full((n_docs, n_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    if len(items) == 0:
        return out
    if len(docs) > 1 and bool(np.all(docs[1:] >= docs[:-1])):
        sorted_docs, base = docs, (splitmix64(items) >> np.uint64(32)).astype(np.uint32)
    else:
        order = np.argsort(docs, kind="stable")
        sorted_docs, base = docs[order], (splitmix64(items[order]) >> np.uint64(32)).astype(np.uint32)
    doc_ids, starts = np.unique(sorted_docs, return_index=True)
    rng = np.random.default_rng(seed)
    multipliers = rng.integers(1, 2**31, size=n_perm, dtype=np.int64).astype(np.uint32) * np.uint32(2) + np.uint32(1)
    offsets = rng.integers(0, 2**32, size=n_perm, dtype=np.int64).astype(np.uint32)
    hashed = np.empty_like(base)
    with np.errstate(over="ignore"):
        for perm in range(n_perm):
            np.multiply(base, multipliers[perm], out=hashed)
            hashed += offsets[perm]
            out[doc_ids, perm] = np.minimum.reduceat(hashed, starts)
    return out


def band_keys(signature: U32, bands: int) -> U64:
    """``(n_docs, bands)`` keys, one per band of ``n_perm / bands`` rows; band index is mixed into the key."""
    n_docs, n_perm = signature.shape
    rows = max(n_perm // bands, 1)
    keys = np.empty((n_docs, bands), dtype=np.uint64)
    for band in range(bands):
        key = np.full(n_docs, band, dtype=np.uint64)
        for column in range(band * rows, min((band + 1) * rows, n_perm)):
            key = combine(key, signature[:, column].astype(np.uint64))
        keys[:, band] = key
    return keys
