"""`distillguard simulate`: write a simulated population to a directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from app.simulation.config import PRESETS, SimulationConfig, load_params, merge_params
from app.simulation.population import simulate


def register(cli: typer.Typer) -> None:
    @cli.command("simulate")
    def simulate_command(
        out: Annotated[Path, typer.Option("--out", help="Directory for accounts.ndjson, events.ndjson, truth.json.")],
        seed: Annotated[int, typer.Option(help="Random seed; the same seed gives byte-identical output.")] = 7,
        scale: Annotated[float, typer.Option(help="Multiplies account counts (1.0 ≈ 3,000 accounts).")] = 1.0,
        days: Annotated[float, typer.Option(help="Length of the simulated window in days.")] = 10.0,
        corpus: Annotated[
            Path | None, typer.Option(help="Directory of JSONL prompt files {text, source} (human_*, distill_*).")
        ] = None,
        ipdata: Annotated[
            Path | None, typer.Option(help="IP-data directory (cloud_provider_ranges/, ip2asn/, …).")
        ] = None,
        config: Annotated[
            Path | None, typer.Option("--config", help="JSON overriding persona/campaign parameters.")
        ] = None,
        preset: Annotated[
            str, typer.Option(help=f"Named parameter set ({', '.join(PRESETS)}); --config applies on top.")
        ] = "default",
    ) -> None:
        """Simulate benign traffic and distillation campaigns, with ground truth."""
        for label, path in (("--corpus", corpus), ("--ipdata", ipdata), ("--config", config)):
            if path is not None and not path.exists():
                raise typer.BadParameter(f"{path} does not exist", param_hint=label)
        try:
            if preset not in PRESETS:
                raise ValueError(f"unknown preset {preset!r}; known: {sorted(PRESETS)}")
            params = merge_params(PRESETS[preset], load_params(config) if config is not None else {})
            settings = SimulationConfig(seed=seed, scale=scale, days=days, corpus=corpus, ipdata=ipdata, params=params)
            started = time.perf_counter()
            population = simulate(settings)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from error
        paths = population.write(out)
        n_campaign = sum(1 for c in population.truth["accounts"].values() if c is not None)
        typer.echo(
            f"{len(population.accounts)} accounts ({n_campaign} in {len(population.truth['campaigns'])} campaigns), "
            f"{len(population.events)} events in {time.perf_counter() - started:.1f}s → {paths['events'].parent}"
        )
