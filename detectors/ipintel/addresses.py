"""Address arithmetic for :mod:`detectors.ipintel`: parsing, CIDR bounds, sorted interval search.

IPv4 addresses are keyed by their 32-bit value; IPv6 addresses by their top 64 bits (the
/64 is one subscriber network), so published prefixes longer than /64 widen to their /64.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

_U64 = np.uint64
_TOP64 = (1 << 64) - 1


def ip_key(text: str) -> tuple[int, int]:
    """(version, integer key) of an address; IPv6 keyed by its top 64 bits. (0, 0) if not an address."""
    text = text.strip().split("%", 1)[0]
    try:
        if ":" in text:
            value = int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
            if value >> 32 == 0xFFFF:  # IPv4-mapped
                return 4, value & 0xFFFFFFFF
            return 6, value >> 64
        if text.count(".") != 3:  # inet_aton also accepts shorthand like "10.1"
            return 0, 0
        return 4, int.from_bytes(socket.inet_aton(text), "big")
    except (OSError, ValueError):
        return 0, 0


def cidr_bounds(cidr: str) -> tuple[int, int, int] | None:
    """(version, first key, last key) of a CIDR or a bare address, in :func:`ip_key` space."""
    address, _, length_text = cidr.split("#", 1)[0].strip().partition("/")
    version, key = ip_key(address)
    if version == 0:
        return None
    width = 32 if version == 4 else 64
    full = 32 if version == 4 else 128
    try:
        length = int(length_text) if length_text else full
    except ValueError:
        return None
    length = min(max(length, 0), full)
    host_bits = max(width - length, 0)
    first = (key >> host_bits) << host_bits
    return version, first, first | ((1 << host_bits) - 1)


@dataclass
class Ranges:
    """Sorted intervals [starts[i], ends[i]] labelled labels[i] (an index into a label list)."""

    starts: npt.NDArray[np.uint64] = field(default_factory=lambda: np.zeros(0, _U64))
    ends: npt.NDArray[np.uint64] = field(default_factory=lambda: np.zeros(0, _U64))
    labels: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))

    @classmethod
    def build(cls, starts: Any, ends: Any, labels: Any, *, merge: bool) -> Ranges:
        s = np.asarray(starts, dtype=_U64)
        e = np.asarray(ends, dtype=_U64)
        lab = np.asarray(labels, dtype=np.int32)
        order = np.lexsort((e, s))
        s, e, lab = s[order], e[order], lab[order]
        if merge and len(s):
            # same-label overlapping/adjacent intervals collapse; a running max of ends finds the breaks
            running_end = np.maximum.accumulate(e)
            new_block = np.ones(len(s), dtype=bool)
            new_block[1:] = (s[1:] > running_end[:-1] + _U64(1)) | (running_end[:-1] == _U64(_TOP64))
            new_block[1:] |= lab[1:] != lab[:-1]
            block = np.cumsum(new_block) - 1
            first = np.flatnonzero(new_block)
            last_end = np.zeros(len(first), dtype=_U64)
            np.maximum.at(last_end, block, e)
            s, e, lab = s[first], last_end, lab[first]
        return cls(s, e, lab)

    def find(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.int32]:
        """Label of the interval holding each key, -1 where none (the last interval starting at or before it)."""
        if not len(self.starts) or not len(keys):
            return np.full(len(keys), -1, dtype=np.int32)
        idx = np.searchsorted(self.starts, keys, side="right") - 1
        safe = np.clip(idx, 0, None)
        hit = (idx >= 0) & (keys <= self.ends[safe])
        return np.where(hit, self.labels[safe], -1).astype(np.int32)


def subnet_label(subnet_id: int) -> str:
    """Display text of a :attr:`Resolved.subnet_id`."""
    if subnet_id >> 60:
        key = subnet_id & ((1 << 48) - 1)
        return ":".join(f"{(key >> shift) & 0xFFFF:x}" for shift in (32, 16, 0)) + "::/48"
    return f"{subnet_id >> 16}.{(subnet_id >> 8) & 255}.{subnet_id & 255}.0/24"


def parse_ips(ips: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.uint64]]:
    """(version, key) arrays for an object array of address texts (version 0 = missing or invalid).

    Dotted quads are parsed column by column with numpy, which is what makes millions of
    distinct addresses affordable; anything else goes through :func:`ip_key`.
    """
    n = len(ips)
    versions = np.zeros(n, dtype=np.int8)
    keys = np.zeros(n, dtype=_U64)
    if not n:
        return versions, keys
    texts = np.array([x if isinstance(x, str) else "" for x in ips], dtype=object)
    short = np.fromiter((len(x) <= 15 and ":" not in x for x in texts), dtype=bool, count=n)
    rows = np.flatnonzero(short)
    if len(rows):
        raw = np.array(texts[rows].tolist(), dtype="S15").view(np.uint8).reshape(len(rows), 15)
        octets = np.zeros((len(rows), 4), dtype=np.int64)
        digits = np.zeros((len(rows), 4), dtype=np.int64)
        dots = np.zeros(len(rows), dtype=np.int64)
        ok = np.ones(len(rows), dtype=bool)
        for column in range(15):
            char = raw[:, column].astype(np.int64)
            is_digit = (char >= 48) & (char <= 57)
            is_dot = char == 46
            ok &= is_digit | is_dot | (char == 0)
            slot = np.minimum(dots, 3)
            at = np.flatnonzero(is_digit)
            octets[at, slot[at]] = octets[at, slot[at]] * 10 + (char[at] - 48)
            digits[at, slot[at]] += 1
            dots += is_dot
        ok &= (dots == 3) & (digits >= 1).all(axis=1) & (digits <= 3).all(axis=1) & (octets <= 255).all(axis=1)
        good = rows[ok]
        keys[good] = ((octets[ok, 0] << 24) | (octets[ok, 1] << 16) | (octets[ok, 2] << 8) | octets[ok, 3]).astype(_U64)
        versions[good] = 4
        short[rows[~ok]] = False
    for i in np.flatnonzero(~short):
        if texts[i]:
            version, key = ip_key(texts[i])
            versions[i], keys[i] = version, key
    return versions, keys
