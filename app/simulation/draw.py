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
    return prefix + rng.bytes(nbytes).hex()


def uuid4(rng: np.random.Generator) -> str:
    raw = bytearray(rng.bytes(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
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
