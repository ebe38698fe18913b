"""The harness end to end on a small simulated population: score sources, baselines, reports, CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.evaluation import evaluate, fetch_scores, load_event_frame, load_scores, load_truth
from app.evaluation.report import terminal_table, write_html, write_json
from app.evaluation.sources import parse_score_records
from app.simulation import Population, SimulationConfig, simulate


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> tuple[Population, Path]:
    population = simulate(SimulationConfig(seed=21, scale=0.1, days=4))
    out = tmp_path_factory.mktemp("sim")
    population.write(out)
    return population, out


@pytest.fixture(scope="module")
def events(population: tuple[Population, Path]) -> pd.DataFrame:
    return load_event_frame(population[1] / "events.ndjson")


def _oracle(truth: dict[str, Any], *, inverted: bool = False) -> list[dict[str, Any]]:
    """A system that knows the answer (or gets it exactly backwards)."""
    records = []
    for account, campaign in truth["accounts"].items():
        bad = (campaign is not None) != inverted
        records.append({"account_id": account, "risk_score": 0.9 if bad else 0.1, "flagged": bad,
                        "cluster_id": (campaign or "k-benign") if bad else None})  # fmt: skip
    return records


def test_a_perfect_system_scores_perfectly(population: tuple[Population, Path]) -> None:
    pop, _ = population
    result = evaluate(pop.truth, None, parse_score_records(_oracle(pop.truth)))
    metrics = result.results["distillguard"]
    assert metrics["roc_auc"] == 1.0 and metrics["average_precision"] == 1.0
    assert metrics["recall_at_fpr_0.1pct"] == 1.0 and metrics["flagged_precision"] == 1.0
    assert metrics["campaigns_detected"] == metrics["campaigns_total"] == len(pop.truth["campaigns"])
    assert metrics["cluster_purity"] == 1.0 and metrics["cluster_completeness"] == 1.0
    assert all(v["flagged"] == 0 for v in metrics["benign_flagged_by_persona"].values())
    assert len(metrics["top_benign"]) == 10 and {t["score"] for t in metrics["top_benign"]} == {0.1}
    assert all(pop.truth["accounts"][t["account_id"]] is None for t in metrics["top_benign"])
    worst = evaluate(pop.truth, None, parse_score_records(_oracle(pop.truth, inverted=True))).results["distillguard"]
    assert worst["roc_auc"] == 0.0 and worst["campaigns_detected"] == 0 and worst["cluster_purity"] == 0.0


def test_unscored_accounts_count_as_not_flagged(population: tuple[Population, Path]) -> None:
    pop, _ = population
    records = [r for r in _oracle(pop.truth) if r["flagged"]][:3]
    metrics = evaluate(pop.truth, None, parse_score_records(records)).results["distillguard"]
    assert metrics["n_flagged"] == 3 and metrics["flagged_precision"] == 1.0
    assert metrics["flagged_recall"] == pytest.approx(3 / sum(c is not None for c in pop.truth["accounts"].values()))


def test_baselines_floors_on_a_seeded_population(population: tuple[Population, Path], events: pd.DataFrame) -> None:
    result = evaluate(load_truth(population[1] / "truth.json"), events)
    assert set(result.results) == {"volume", "prada", "ip_sharing"}
    # what each baseline is built to catch, and the hard negatives it trips over
    assert result.results["ip_sharing"]["campaign_recall"]["hydra"] >= 0.5
    assert result.results["volume"]["campaign_recall"]["bulk"] == 1.0
    assert result.results["ip_sharing"]["benign_flagged_by_persona"]["student"]["share"] >= 0.25
    assert result.results["volume"]["campaign_recall"]["low_and_slow"] == 0.0
    for metrics in result.results.values():
        assert 0.5 <= metrics["roc_auc"] < 1.0


def _write_formats(records: list[dict[str, Any]], directory: Path) -> list[Path]:
    directory.mkdir()
    paths = [directory / "scores.json", directory / "page.json", directory / "scores.ndjson", directory / "s.csv"]
    paths[0].write_bytes(orjson.dumps(records))
    paths[1].write_bytes(orjson.dumps({"items": records, "next_cursor": None}))
    paths[2].write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    with paths[3].open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["account_id", "risk_score", "flagged", "cluster_id"])
        writer.writeheader()
        for r in records:
            writer.writerow({**r, "flagged": str(r["flagged"]).lower(), "cluster_id": r["cluster_id"] or ""})
    return paths


def test_every_score_file_format_reads_the_same(population: tuple[Population, Path], tmp_path: Path) -> None:
    pop, _ = population
    records = _oracle(pop.truth)
    records[0]["risk_score"] = None  # not scored yet
    loaded = [load_scores(path) for path in _write_formats(records, tmp_path / "formats")]
    assert all(scores == loaded[0] for scores in loaded[1:])
    assert loaded[0][records[0]["account_id"]].risk_score is None


def test_fetch_scores_pages_through_the_api() -> None:
    pages = {
        None: {"items": [{"account_id": "a", "risk_score": 0.9, "flagged": True, "cluster_id": "k"}],
               "next_cursor": "c1"},
        "c1": {"items": [{"account_id": "b", "risk_score": None, "flagged": False, "cluster_id": None}],
               "next_cursor": None},
    }  # fmt: skip
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    scores = fetch_scores("http://svc/", "k-123", transport=httpx.MockTransport(handler))
    assert set(scores) == {"a", "b"} and scores["a"].cluster_id == "k" and scores["b"].risk_score is None
    assert all(r.headers["authorization"] == "Bearer k-123" for r in seen)
    assert [r.url.params.get("limit") for r in seen] == ["1000", "1000"]


def test_reports_are_written_without_nan_and_with_embedded_images(
    population: tuple[Population, Path], events: pd.DataFrame, tmp_path: Path
) -> None:
    pop, _ = population
    result = evaluate(pop.truth, events, parse_score_records(_oracle(pop.truth)))
    write_json(result, tmp_path / "e.json")
    report = json.loads((tmp_path / "e.json").read_text())  # strict JSON: NaN would not parse back as null
    assert set(report["systems"]) == {"distillguard", "volume", "prada", "ip_sharing"}
    write_html(result, tmp_path / "e.html")
    page = (tmp_path / "e.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert all(campaign in page for campaign in pop.truth["campaigns"])
    terminal_table(result)


def test_evaluate_cli_with_a_scores_file(population: tuple[Population, Path], tmp_path: Path) -> None:
    pop, out = population
    scores = tmp_path / "scores.json"
    scores.write_bytes(orjson.dumps(_oracle(pop.truth)))
    runner = CliRunner()
    result = runner.invoke(
        cli, ["evaluate", "--truth", str(out / "truth.json"), "--scores", str(scores), "--out", str(tmp_path / "r"),
              "--no-baselines"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = orjson.loads((tmp_path / "r" / "evaluation.json").read_bytes())
    assert set(report["systems"]) == {"distillguard"} and report["systems"]["distillguard"]["roc_auc"] == 1.0
    both = runner.invoke(cli, ["evaluate", "--truth", str(out / "truth.json"), "--scores", str(scores),
                               "--api", "http://127.0.0.1:1", "--key", "k"])  # fmt: skip
    assert both.exit_code != 0


def test_reports_survive_a_truth_without_campaigns(tmp_path: Path) -> None:
    truth = {"accounts": {"a": None, "b": None}, "campaigns": {}}
    result = evaluate(truth, None, parse_score_records([{"account_id": "a", "risk_score": 0.5, "flagged": False}]))
    assert result.results["distillguard"]["campaigns_total"] == 0
    write_html(result, tmp_path / "e.html")
    write_json(result, tmp_path / "e.json")
    assert json.loads((tmp_path / "e.json").read_text())["systems"]["distillguard"]["roc_auc"] is None
