"""`distillguard simulate` and `distillguard evaluate` round trip through the real CLI."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from app.cli import cli

runner = CliRunner()


def test_simulate_then_evaluate_the_baselines(tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_bytes(orjson.dumps({"campaigns": {"hydra": {"accounts": 120}}}))
    result = runner.invoke(
        cli, ["simulate", "--out", str(tmp_path / "sim"), "--seed", "3", "--scale", "0.05", "--days", "2",
              "--config", str(params)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    truth = orjson.loads((tmp_path / "sim" / "truth.json").read_bytes())
    assert truth["campaigns"]["hydra"]["accounts"] == 6
    assert (tmp_path / "sim" / "accounts.ndjson").stat().st_size > 0

    result = runner.invoke(cli, ["evaluate", "--truth", str(tmp_path / "sim" / "truth.json")])
    assert result.exit_code == 0, result.output
    assert "ip_sharing" in result.output and "prada" in result.output
    report = orjson.loads((tmp_path / "sim" / "evaluation.json").read_bytes())
    assert set(report["systems"]) == {"volume", "prada", "ip_sharing"}
    assert "data:image/png;base64," in (tmp_path / "sim" / "evaluation.html").read_text()


def test_simulate_with_a_preset(tmp_path: Path) -> None:
    args = ["simulate", "--out", str(tmp_path), "--scale", "0.05", "--days", "1", "--preset", "evasive"]
    assert runner.invoke(cli, args).exit_code == 0
    assert "bulk" not in orjson.loads((tmp_path / "truth.json").read_bytes())["campaigns"]
    assert runner.invoke(cli, [*args[:-1], "sneaky"]).exit_code != 0


def test_simulate_refuses_bad_inputs(tmp_path: Path) -> None:
    missing = runner.invoke(cli, ["simulate", "--out", str(tmp_path), "--corpus", str(tmp_path / "nope")])
    assert missing.exit_code != 0
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps({"campaigns": {"x": {"archetype": "unknown"}}}))
    result = runner.invoke(cli, ["simulate", "--out", str(tmp_path), "--scale", "0.05", "--config", str(bad)])
    assert result.exit_code != 0 and "unknown archetype" in result.output
