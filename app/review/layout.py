"""Force-directed (Fruchterman-Reingold) layout for the small graphs the console draws.

Deterministic for a given input, so a page looks the same on every load; O(n²) per step, meant for
up to a few hundred nodes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def spring_layout(
    n: int, edges: Sequence[tuple[int, int]], *, iterations: int = 250, seed: int = 0, gravity: float = 0.08
) -> list[tuple[float, float]]:
    """Positions in [0, 1]² for nodes 0..n-1; ``gravity`` keeps separate components from drifting apart."""
    if n == 0:
        return []
    if n == 1:
        return [(0.5, 0.5)]
    position = np.random.default_rng(seed).random((n, 2))
    adjacency = np.zeros((n, n))
    for a, b in edges:
        if a != b:
            adjacency[a, b] = adjacency[b, a] = 1.0
    k = np.sqrt(1.0 / n)
    temperature = 0.1
    cooling = temperature / (iterations + 1)
    for _ in range(iterations):
        delta = position[:, None, :] - position[None, :, :]
        distance = np.maximum(np.linalg.norm(delta, axis=-1), 0.01)
        strength = k * k / distance**2 - adjacency * distance / k
        np.fill_diagonal(strength, 0.0)
        displacement = (delta * strength[:, :, None]).sum(axis=1) - gravity * (position - 0.5)
        length = np.maximum(np.linalg.norm(displacement, axis=1), 1e-9)
        position += displacement / length[:, None] * np.minimum(length, temperature)[:, None]
        temperature -= cooling
    low, high = position.min(axis=0), position.max(axis=0)
    span = np.where(high - low > 1e-9, high - low, 1.0)
    scaled = (position - low) / span
    return [(float(x), float(y)) for x, y in scaled]
