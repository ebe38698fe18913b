from __future__ import annotations

import pytest

from app.simulation import Population, SimulationConfig, simulate

SMALL = SimulationConfig(seed=11, scale=0.05, days=4)


@pytest.fixture(scope="package")
def small_population() -> Population:
    """~250 accounts over 4 days: every persona and archetype present, a couple of seconds to build."""
    return simulate(SMALL)
