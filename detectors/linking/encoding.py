"""The per-event work of linking: what one request's own fields give, whatever the other events are.

A prompt's MinHash signature and the hash of its exact tokens (:mod:`.templates`), its wrapper marks (its opening
and closing words, its system prompt: :mod:`.wrappers`) and the subnet of its address (:mod:`.infrastructure`)
depend on that request alone.  :func:`link_accounts <detectors.linking.linker.link_accounts>` computes them for
every event it is given; a worker that keeps its detection window in memory between runs keeps them too
(:class:`EventCodes`), so an incremental run encodes only its new events, as it featurises only them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors.linking.config import LinkingConfig
from detectors.linking.minhash import combine, signatures, splitmix64
from detectors.linking.tokens import event_tokens
from detectors.text import MAX_TOKENS_KEPT

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

# Rows tokenised and hashed at a time: bounds the token arrays (about 50 bytes per token) whatever the window.
CHUNK_ROWS = 250_000
# tags keep an opening, a closing and a system prompt with the same hash apart
_OPENING, _CLOSING, _SYSTEM = np.uint64(1), np.uint64(2), np.uint64(3)


def codes_key(config: LinkingConfig) -> tuple[int, ...]:
    """The settings the encodings depend on: codes made under other settings are recomputed, never reused."""
    return (config.minhash_permutations, config.shingle_size, config.min_template_tokens, config.seed,
            config.wrapper_tokens, config.ipv4_prefix, config.ipv6_prefix)  # fmt: skip


@dataclass(frozen=True, slots=True)
class EventCodes:
    """Row ``i`` encodes event ``i`` of the frame it was made from.

    ``row_hash``: an order-sensitive hash of the prompt's slot-masked tokens (``has_tokens``: at least
    ``min_template_tokens`` of them); ``signature``: its MinHash signature; ``opening``/``closing``/``system``:
    its wrapper marks (``has_*``: present); ``subnets``: the subnet of every address seen (index: address)."""

    key: tuple[int, ...]
    row_hash: U64
    has_tokens: Bools
    signature: U32
    opening: Ints
    has_opening: Bools
    closing: Ints
    has_closing: Bools
    system: Ints
    has_system: Bools
    subnets: pd.Series

    def __len__(self) -> int:
        return len(self.row_hash)

    def fits(self, config: LinkingConfig, n_rows: int) -> bool:
        return self.key == codes_key(config) and len(self) == n_rows

    def take(self, rows: npt.NDArray[np.bool_] | Ints) -> EventCodes:
        """The codes of the events at ``rows`` (a mask or positions), in that order."""
        return EventCodes(
            self.key, self.row_hash[rows], self.has_tokens[rows], self.signature[rows], self.opening[rows],
            self.has_opening[rows], self.closing[rows], self.has_closing[rows], self.system[rows],
            self.has_system[rows], self.subnets,
        )  # fmt: skip

    @staticmethod
    def concat(parts: Sequence[EventCodes]) -> EventCodes:
        """The codes of the events of ``parts`` one after another (all made under the same settings)."""
        if len({part.key for part in parts}) != 1:
            raise ValueError("event codes made under different linking settings cannot be joined")
        subnets = _joined_subnets([part.subnets for part in parts])

        def joined(name: str) -> np.ndarray:
            return np.concatenate([getattr(part, name) for part in parts])

        return EventCodes(
            parts[0].key, joined("row_hash"), joined("has_tokens"), joined("signature"), joined("opening"),
            joined("has_opening"), joined("closing"), joined("has_closing"), joined("system"), joined("has_system"),
            subnets,
        )  # fmt: skip


def encode_events(events: pd.DataFrame, config: LinkingConfig, *, known_subnets: pd.Series | None = None) -> EventCodes:
    """The codes of every row of ``events`` (columns ``token_hashes``, ``system_text``, ``ip``; any missing is
    treated as null).  ``known_subnets`` (address → subnet) spares computing the subnets of addresses seen before."""
    n_rows = len(events)
    empty_text = pd.Series(pd.NA, index=events.index, dtype="string")
    texts = events["token_hashes"] if "token_hashes" in events.columns else empty_text
    row_hash = np.zeros(n_rows, dtype=np.uint64)
    has_tokens = np.zeros(n_rows, dtype=bool)
    signature = np.full((n_rows, config.minhash_permutations), np.iinfo(np.uint32).max, dtype=np.uint32)
    marks = {name: np.zeros(n_rows, dtype=np.int64) for name in ("opening", "closing", "system")}
    present = {name: np.zeros(n_rows, dtype=bool) for name in marks}
    width = config.wrapper_tokens
    for start in range(0, n_rows, CHUNK_ROWS):
        chunk = texts.iloc[start : start + CHUNK_ROWS]
        tokens, rows, counts = event_tokens(chunk, min_tokens=min(config.min_template_tokens, 2 * width))
        _template_rows(tokens, rows, counts, start, config, row_hash, has_tokens, signature)
        _wrapper_rows(tokens, counts, start, width, marks, present)
    system = events["system_text"] if "system_text" in events.columns else None
    if system is not None and system.notna().any():
        has = system.notna().to_numpy(dtype=bool)
        hashed = pd.util.hash_array(system[has].astype(str).to_numpy(dtype=object)).astype(np.uint64)
        marks["system"][has] = splitmix64(hashed ^ _SYSTEM).view(np.int64)
        present["system"] = has
    ips = events["ip"] if "ip" in events.columns else empty_text
    return EventCodes(
        codes_key(config), row_hash, has_tokens, signature, marks["opening"], present["opening"], marks["closing"],
        present["closing"], marks["system"], present["system"], subnet_table(ips, config, known=known_subnets),
    )  # fmt: skip


def _template_rows(
    tokens: U64, rows: Ints, counts: Ints, start: int, config: LinkingConfig, row_hash: U64, has_tokens: Bools,
    signature: U32,
) -> None:  # fmt: skip
    """Fill the template codes of the rows of one chunk (``rows``: each token's row within the chunk)."""
    enough = counts >= config.min_template_tokens
    if not enough.any():
        return
    kept = enough[rows]
    tokens, rows = tokens[kept], rows[kept]
    counts = np.where(enough, counts, 0)
    with_tokens = np.flatnonzero(enough)
    # identical masked prompts are one document: an order-sensitive hash of each row's tokens finds them
    within = np.arange(len(rows), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    with np.errstate(over="ignore"):
        mixed = splitmix64(tokens + within.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    row_hash[start + with_tokens] = np.bitwise_xor.reduceat(mixed, (np.cumsum(counts) - counts)[with_tokens])
    has_tokens[start + with_tokens] = True
    shingles, shingle_row = _shingles(tokens, rows, config.shingle_size)
    signature[start : start + len(counts)] = signatures(
        shingles, shingle_row, len(counts), n_perm=config.minhash_permutations, seed=config.seed
    )


def _shingles(tokens: U64, token_doc: Ints, size: int) -> tuple[U64, Ints]:
    """Hashes of every run of ``size`` consecutive tokens within one document (a polynomial hash: the
    signatures mix it again)."""
    if len(tokens) < size:
        return np.empty(0, np.uint64), np.empty(0, np.int64)
    n = len(tokens) - size + 1
    valid = token_doc[size - 1 :] == token_doc[:n]
    shingle = tokens[:n].copy()
    with np.errstate(over="ignore"):
        for offset in range(1, size):
            shingle *= np.uint64(0x100000001B3)
            shingle += tokens[offset : offset + n]
    return shingle[valid], token_doc[:n][valid]


def _wrapper_rows(
    tokens: U64, counts: Ints, start: int, width: int, marks: dict[str, Ints], present: dict[str, Bools]
) -> None:
    """Fill the opening and closing marks of the rows of one chunk with at least two wrappers' worth of tokens."""
    first_token = np.cumsum(counts) - counts
    rows = np.flatnonzero(counts >= 2 * width)
    if len(rows) == 0:
        return
    first = first_token[rows]
    opening = _run_hash(tokens, first, width) ^ splitmix64(np.full(len(rows), _OPENING))
    marks["opening"][start + rows] = opening.view(np.int64)
    present["opening"][start + rows] = True
    whole = rows[counts[rows] < MAX_TOKENS_KEPT]  # a cut-off prompt has no closing words to compare
    ends = first_token[whole] + counts[whole] - width
    closing = _run_hash(tokens, ends, width) ^ splitmix64(np.full(len(whole), _CLOSING))
    marks["closing"][start + whole] = closing.view(np.int64)
    present["closing"][start + whole] = True


def _run_hash(tokens: U64, starts: Ints, width: int) -> U64:
    out = np.zeros(len(starts), dtype=np.uint64)
    for offset in range(width):
        out = combine(out, tokens[starts + offset])
    return out


def subnet_of(ip: str, *, ipv4_prefix: int = 24, ipv6_prefix: int = 48) -> str:
    address = ipaddress.ip_address(ip)
    prefix = ipv4_prefix if address.version == 4 else ipv6_prefix
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def subnet_table(ips: pd.Series, config: LinkingConfig, *, known: pd.Series | None = None) -> pd.Series:
    """address → its /24 (IPv4) or /48 (IPv6) as text (null: not an address), for each distinct address of
    ``ips`` and every address of ``known`` (a table made before, whose addresses are not computed again)."""
    distinct = pd.Index(pd.unique(ips.dropna().astype(str).to_numpy(dtype=object)), dtype=object)
    if known is not None and len(known):
        distinct = distinct[~distinct.isin(known.index)]
    addresses = pd.Series(distinct.to_numpy(dtype=object), dtype="string")
    dotted = addresses.str.fullmatch(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}").fillna(False).to_numpy(dtype=bool)
    nets = pd.Series(pd.NA, index=addresses.index, dtype="string")
    if config.ipv4_prefix == 24:
        nets[dotted] = addresses[dotted].str.rsplit(".", n=1).str[0] + ".0/24"
    slow = ~dotted if config.ipv4_prefix == 24 else np.ones(len(addresses), dtype=bool)
    for position in np.flatnonzero(slow).tolist():
        try:
            nets.iloc[position] = subnet_of(
                str(addresses.iloc[position]), ipv4_prefix=config.ipv4_prefix, ipv6_prefix=config.ipv6_prefix
            )
        except ValueError:
            continue
    found = pd.Series(nets.to_numpy(), index=distinct, dtype="string")
    if known is None or not len(known):
        return found
    return _joined_subnets([known, found]) if len(found) else known


def _joined_subnets(tables: Sequence[pd.Series]) -> pd.Series:
    joined = pd.concat(tables)
    joined = joined[~joined.index.duplicated(keep="last")]
    out: pd.Series = joined.set_axis(pd.Index(joined.index, dtype=object)).astype("string")
    return out
