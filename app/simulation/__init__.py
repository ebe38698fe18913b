"""A realistic traffic simulator: benign personas, hard negatives and distillation campaigns.

from app.simulation import SimulationConfig, simulate
population = simulate(SimulationConfig(seed=7, scale=0.2, days=5))
population.write("out/")  # accounts.ndjson, events.ndjson, truth.json
"""

from app.simulation.config import ARCHETYPES, CAMPAIGN_DEFAULTS, PERSONA_DEFAULTS, SimulationConfig, load_params
from app.simulation.population import Population, simulate

__all__ = [
    "ARCHETYPES",
    "CAMPAIGN_DEFAULTS",
    "PERSONA_DEFAULTS",
    "Population",
    "SimulationConfig",
    "load_params",
    "simulate",
]
