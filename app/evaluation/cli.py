"""`distillguard evaluate`: the system and the baselines against a simulated truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.evaluation.harness import evaluate
from app.evaluation.report import terminal_table, write_html, write_json
from app.evaluation.sources import fetch_scores, load_event_frame, load_scores, load_truth


def register(cli: typer.Typer) -> None:
    @cli.command("evaluate")
    def evaluate_command(
        truth: Annotated[Path, typer.Option("--truth", help="truth.json written by `distillguard simulate`.")],
        api: Annotated[str | None, typer.Option("--api", help="Base URL of a running service.")] = None,
        key: Annotated[str | None, typer.Option("--key", help="Analyst or admin key for --api.")] = None,
        scores: Annotated[
            Path | None, typer.Option("--scores", help="Account risk records (JSON, NDJSON or CSV).")
        ] = None,
        events: Annotated[
            Path | None, typer.Option("--events", help="Events for the baselines (default: beside truth.json).")
        ] = None,
        out: Annotated[
            Path | None, typer.Option("--out", help="Directory for evaluation.json/.html (default: beside truth).")
        ] = None,
        baselines: Annotated[bool, typer.Option(help="Also compute the three baselines from the events.")] = True,
    ) -> None:
        """ROC-AUC, AP, recall at low FPR, flagged precision/recall, campaigns and clusters, vs. baselines."""
        if api is not None and scores is not None:
            raise typer.BadParameter("give either --api/--key or --scores, not both")
        if api is not None and not key:
            raise typer.BadParameter("--api needs --key", param_hint="--key")
        if not truth.exists():
            raise typer.BadParameter(f"{truth} does not exist", param_hint="--truth")
        truth_data = load_truth(truth)
        system = None
        if api is not None and key:
            system = fetch_scores(api, key)
        elif scores is not None:
            if not scores.exists():
                raise typer.BadParameter(f"{scores} does not exist", param_hint="--scores")
            system = load_scores(scores)
        event_frame = None
        if baselines:
            events_path = events or truth.parent / "events.ndjson"
            if not events_path.exists():
                raise typer.BadParameter(
                    f"{events_path} does not exist (baselines need the events)", param_hint="--events"
                )
            event_frame = load_event_frame(events_path)
        if system is None and event_frame is None:
            raise typer.BadParameter("nothing to evaluate: give --api/--key or --scores, or keep the baselines")
        evaluation = evaluate(truth_data, event_frame, system)
        out_dir = out or truth.parent
        out_dir.mkdir(parents=True, exist_ok=True)
        terminal_table(evaluation)
        write_json(evaluation, out_dir / "evaluation.json")
        write_html(evaluation, out_dir / "evaluation.html")
        typer.echo(f"wrote {out_dir / 'evaluation.json'} and {out_dir / 'evaluation.html'}")
