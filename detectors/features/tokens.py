"""Vectorised work on ``token_hashes`` (see :mod:`detectors.text`): parsing, capability lexicon, MinHash.

Everything here runs on integer token ids, never on words, so it behaves the same in the
``full`` and ``hashed`` retention modes.  Callers deduplicate prompts first
(:func:`unique_docs`): templated traffic repeats the same token sequence thousands of
times and each distinct sequence is processed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors.text import token_hash

_HEX = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX[_c] = 10 + _i

# Words whose presence marks a request's capability.  Kept short and generic on purpose:
# the features must carry over to unseen prompt populations.  "<code>" is the slot token
# detectors.text puts in place of fenced code.
CAPABILITY_LEXICON: dict[str, tuple[str, ...]] = {
    "coding": (
        "<code>", "code", "function", "functions", "python", "javascript", "typescript", "java", "rust", "golang",
        "sql", "html", "css", "bug", "debug", "compile", "compiler", "refactor", "implement", "implementation",
        "script", "class", "method", "variable", "api", "regex", "json", "library", "repository", "unittest",
        "programming", "program", "stack", "exception", "runtime", "syntax", "snippet", "algorithm", "database",
    ),
    "agentic": (
        "tool", "tools", "agent", "agents", "invoke", "execute", "execution", "terminal", "shell", "command",
        "commands", "browse", "browser", "workflow", "action", "actions", "observation", "plan", "subtask",
        "subtasks", "environment", "file", "files", "directory", "search", "retrieve",
    ),
    "reasoning": (
        "prove", "proof", "solve", "solution", "calculate", "compute", "equation", "equations", "math",
        "mathematical", "probability", "theorem", "logic", "logical", "puzzle", "integer", "integers", "derivative",
        "integral", "deduce", "riddle", "reasoning", "reason", "arithmetic", "geometry", "algebra", "formula",
    ),
    "writing": (
        "write", "essay", "story", "poem", "email", "letter", "blog", "article", "summarize", "summarise",
        "summary", "rewrite", "paraphrase", "translate", "paragraph", "tone", "draft", "lyrics", "novel",
        "headline", "slogan", "tweet", "speech",
    ),
}  # fmt: skip
CAPABILITIES: tuple[str, ...] = ("coding", "agentic", "reasoning", "writing", "other")


def _lexicon_ids() -> dict[str, npt.NDArray[np.uint32]]:
    return {
        name: np.unique(np.array([int(token_hash(word), 16) for word in words], dtype=np.uint32))
        for name, words in CAPABILITY_LEXICON.items()
    }


_LEXICON_IDS = _lexicon_ids()


@dataclass(frozen=True)
class Docs:
    """Distinct token sequences: flat token ids and per-document offsets (doc i = ids[offsets[i]:offsets[i+1]])."""

    texts: npt.NDArray[np.object_]
    ids: npt.NDArray[np.uint32]
    offsets: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def lengths(self) -> npt.NDArray[np.int64]:
        return np.diff(self.offsets)

    @property
    def doc_of_token(self) -> npt.NDArray[np.int64]:
        return np.repeat(np.arange(len(self.texts), dtype=np.int64), self.lengths)

    @cached_property
    def keys(self) -> npt.NDArray[np.int64]:
        """A stable 64-bit hash of each document's text."""
        return stable_codes(pd.Series(self.texts, dtype=object))


def unique_docs(token_hashes: pd.Series, *, sort: bool = False) -> tuple[npt.NDArray[np.int64], Docs]:
    """(code per row, -1 where no text; the distinct documents — sorted by text if ``sort``).

    Sorting gives a canonical document order (what a fitted model must not depend on:
    row order); a map step does not need it.
    """
    values = token_hashes if isinstance(token_hashes.dtype, pd.StringDtype) else token_hashes.astype("string")
    codes, uniques = pd.factorize(values, sort=sort, use_na_sentinel=True)
    texts = np.asarray(uniques, dtype=object)
    codes = np.asarray(codes, dtype=np.int64)
    empty = np.flatnonzero(np.array([not t for t in texts], dtype=bool)) if len(texts) else np.zeros(0, np.int64)
    if len(empty):  # an empty string is no text: drop it and renumber
        keep = np.ones(len(texts), dtype=bool)
        keep[empty] = False
        renumber = np.cumsum(keep) - 1
        codes = np.where(codes >= 0, np.where(keep[np.clip(codes, 0, None)], renumber[np.clip(codes, 0, None)], -1),
                         -1)
        texts = texts[keep]
    return codes, parse_docs(texts)


def parse_docs(texts: npt.NDArray[np.object_]) -> Docs:
    """Space-separated 6-hex token hashes → ids; one fixed-stride numpy pass when well-formed.

    Documents are joined with newlines, so every token occupies exactly 7 bytes whose last
    byte says whether the document continues (space) or ends (newline).
    """
    n = len(texts)
    if not n:
        return Docs(texts, np.zeros(0, np.uint32), np.zeros(1, np.int64))
    raw = np.frombuffer(("\n".join(texts.tolist()) + "\n").encode("utf-8", "replace"), dtype=np.uint8)
    if len(raw) % 7 == 0:
        cells = raw.reshape(-1, 7)
        separators = cells[:, 6]
        digits = _HEX[cells[:, :6]]
        ends = separators == 10
        if int(ends.sum()) == n and ((separators == 32) | ends).all() and (digits != 255).all():
            weights = (np.uint32(1) << (np.arange(5, -1, -1, dtype=np.uint32) * 4)).astype(np.uint32)
            ids = (digits.astype(np.uint32) * weights).sum(axis=1, dtype=np.uint32)
            offsets = np.concatenate([[0], np.flatnonzero(ends) + 1]).astype(np.int64)
            return Docs(texts, ids, offsets)
    return _parse_slow(texts)


def _parse_slow(texts: npt.NDArray[np.object_]) -> Docs:
    """Tolerates hand-written or foreign token strings: any whitespace-separated words, hashed if not hex."""
    ids: list[int] = []
    offsets = [0]
    for text in texts:
        for word in str(text).split():
            try:
                ids.append(int(word, 16) & 0xFFFFFF if len(word) == 6 else int(token_hash(word), 16))
            except ValueError:
                ids.append(int(token_hash(word), 16))
        offsets.append(len(ids))
    return Docs(texts, np.asarray(ids, dtype=np.uint32), np.asarray(offsets, dtype=np.int64))


def capability_of_docs(docs: Docs) -> npt.NDArray[np.int8]:
    """Index into :data:`CAPABILITIES` per document: the category with most lexicon hits ('other' if none)."""
    counts = np.zeros((len(docs), len(CAPABILITIES) - 1), dtype=np.int32)
    if len(docs.ids):
        doc = docs.doc_of_token
        for column, name in enumerate(CAPABILITIES[:-1]):
            hits = np.isin(docs.ids, _LEXICON_IDS[name])
            counts[:, column] = np.bincount(doc[hits], minlength=len(docs))
    best = counts.argmax(axis=1).astype(np.int8)
    return np.where(counts.max(axis=1) > 0, best, np.int8(len(CAPABILITIES) - 1)).astype(np.int8)


def _mix64(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64 finaliser: a fixed bijection that spreads nearby integers apart."""
    with np.errstate(over="ignore"):
        z = values + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def minhash_bands(docs: Docs, *, bands: int = 4, rows: int = 2, seed: int = 1) -> npt.NDArray[np.int64]:
    """LSH band keys (n_docs x bands) of MinHash signatures over token bigrams (unigrams for 1-token docs).

    Two documents share a band key with probability ≈ J**rows (J: Jaccard similarity of
    their bigram sets); the band index is mixed into the key so bands never collide.
    """
    n = len(docs)
    if not n:
        return np.zeros((0, bands), dtype=np.int64)
    ids = docs.ids.astype(np.uint64)
    doc = docs.doc_of_token
    lengths = docs.lengths
    same_doc_next = np.zeros(len(ids), dtype=bool)
    same_doc_next[:-1] = doc[1:] == doc[:-1]
    bigram = np.flatnonzero(same_doc_next)
    shingles = [(ids[bigram] << np.uint64(24)) | ids[bigram + 1]]
    shingle_doc = [doc[bigram]]
    singles = np.flatnonzero(lengths == 1)
    if len(singles):
        shingles.append(ids[docs.offsets[singles]] | np.uint64(1 << 60))
        shingle_doc.append(singles)
    empties = np.flatnonzero(lengths == 0)
    if len(empties):
        shingles.append(np.full(len(empties), np.uint64(1 << 61)))
        shingle_doc.append(empties)
    values = np.concatenate(shingles)
    owner = np.concatenate(shingle_doc)
    order = np.argsort(owner, kind="stable")
    mixed = _mix64(values[order])
    owner = owner[order]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    rng = np.random.default_rng(seed)
    multipliers = rng.integers(1, 2**63, size=bands * rows, dtype=np.uint64) | np.uint64(1)
    addends = rng.integers(0, 2**63, size=bands * rows, dtype=np.uint64)
    signature = np.empty((n, bands * rows), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for p in range(bands * rows):
            signature[:, p] = np.minimum.reduceat(mixed * multipliers[p] + addends[p], starts)
    keys = np.empty((n, bands), dtype=np.uint64)
    for b in range(bands):
        acc = np.full(n, np.uint64(((b + 1) * 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
        for r in range(rows):
            acc = _mix64(acc ^ signature[:, b * rows + r])
        keys[:, b] = acc
    return keys.view(np.int64)


def stable_codes(values: pd.Series) -> npt.NDArray[np.int64]:
    """64-bit hash of each value (same in every process); nulls map to 0."""
    array: Any = values.astype("object").to_numpy()
    present = pd.notna(array)
    out = np.zeros(len(array), dtype=np.int64)
    if present.any():
        out[present] = pd.util.hash_array(np.asarray(array[present], dtype=object)).view(np.int64)
    return out
