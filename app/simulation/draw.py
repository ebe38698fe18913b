"""Small, fast draws from a numpy Generator (scalar draws are the simulator's hot path)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from detectors.text import stable_hash


def pick(rng: np.random.Generator, items: Sequence[Any]) -> Any:
    return items[int(rng.random() * len(items))]


def weighted(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    cumulative = np.cumsum([weights[k] for k in keys])
    return keys[min(int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")), len(keys) - 1)]


def hex_id(rng: np.random.Generator, prefix: str, nbytes: int = 8) -> str:
    # scalar integers draws are several times faster than Generator.bytes
    value = int(rng.integers(0, 1 << 64, dtype=np.uint64))
    return f"{prefix}{value:016x}"[: len(prefix) + 2 * nbytes]


def end_user_ids(rng: np.random.Generator, n: int) -> list[str]:
    """Opaque end-user ids as products pass them (hashed user ids), the same shape for every sender."""
    return [f"{int(x):012x}" for x in rng.integers(0, 1 << 48, size=max(n, 1), dtype=np.int64)]


def random_words(rng: np.random.Generator, n: int = 512) -> list[int]:
    """A batch of 64-bit draws (one vector draw is far cheaper than many scalar ones)."""
    return [int(x) for x in rng.integers(0, 1 << 64, size=n, dtype=np.uint64)]


def uuid4(high: int, low: int) -> str:
    """A version-4 UUID from two 64-bit random words."""
    high = (high & ~(0xF << 12)) | (0x4 << 12)  # version 4
    low = (low & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    h = f"{high:016x}{low:016x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def rng_for(seed: int, name: str) -> np.random.Generator:
    """An independent stream per persona/campaign, so dialling one does not reshuffle the others."""
    return np.random.default_rng([seed, int(stable_hash(name, nbytes=4), 16)])


def poisson_times(rng: np.random.Generator, start: float, end: float, rate_per_s: float) -> np.ndarray:
    """Arrival times of a Poisson process on [start, end)."""
    if end <= start or rate_per_s <= 0:
        return np.empty(0)
    count = int(rng.poisson((end - start) * rate_per_s))
    return np.sort(start + rng.random(count) * (end - start))


def quota(rng: np.random.Generator, n: int, share: float) -> list[bool]:
    """Exactly ``round(n * share)`` True values (at least one when share > 0), in random order.

    Used for persona variants so that every variant exists even in a small population.
    """
    k = min(n, max(1 if share > 0 else 0, round(n * share)))
    flags = np.zeros(n, dtype=bool)
    flags[:k] = True
    return [bool(f) for f in rng.permutation(flags)]
