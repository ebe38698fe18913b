"""Evaluation output: a terminal table, a JSON file and a self-contained HTML report."""

from __future__ import annotations

import base64
import html
import io
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from rich.console import Console
from rich.table import Table

from app.evaluation import metrics as m
from app.evaluation.harness import Evaluation

ROWS: tuple[tuple[str, str], ...] = (
    ("roc_auc", "ROC-AUC"),
    ("average_precision", "average precision"),
    ("recall_at_fpr_0.1pct", "recall @ FPR ≤ 0.1%"),
    ("recall_at_fpr_1pct", "recall @ FPR ≤ 1%"),
    ("n_flagged", "accounts flagged"),
    ("flagged_precision", "precision of flagged"),
    ("flagged_recall", "recall of flagged"),
    ("campaigns_detected", "campaigns detected (≥50%)"),
    ("n_flagged_clusters", "flagged clusters"),
    ("cluster_purity", "cluster purity"),
    ("cluster_completeness", "cluster completeness"),
)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _cell(result: dict[str, Any], key: str) -> str:
    if key == "campaigns_detected":
        return f"{result['campaigns_detected']}/{result['campaigns_total']}"
    return _fmt(result.get(key))


def terminal_table(evaluation: Evaluation, console: Console | None = None) -> None:
    # rich falls back to 80 columns when piped, which truncates the system names
    console = console or Console(width=None if sys.stdout.isatty() else 140)
    names = list(evaluation.results)
    summary = Table(title=f"{len(evaluation.accounts)} accounts, {int(evaluation.labels.sum())} in campaigns")
    summary.add_column("metric")
    for name in names:
        summary.add_column(name, justify="right")
    for key, label in ROWS:
        summary.add_row(label, *(_cell(evaluation.results[n], key) for n in names))
    console.print(summary)
    campaigns = Table(title="per-campaign member recall")
    campaigns.add_column("campaign")
    campaigns.add_column("archetype")
    campaigns.add_column("accounts", justify="right")
    for name in names:
        campaigns.add_column(name, justify="right")
    for cid, info in evaluation.truth.get("campaigns", {}).items():
        recalls = [_fmt(evaluation.results[n]["campaign_recall"].get(cid)) for n in names]
        campaigns.add_row(cid, str(info.get("archetype", "")), str(info.get("accounts", "")), *recalls)
    console.print(campaigns)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(evaluation: Evaluation, path: Path) -> None:
    path.write_bytes(
        orjson.dumps(_clean(evaluation.summary()), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    )


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _curves(evaluation: Evaluation) -> tuple[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    pr, pr_axes = plt.subplots(figsize=(6, 4.5))
    roc, roc_axes = plt.subplots(figsize=(6, 4.5))
    for name, scored in evaluation.systems.items():
        recall, precision = m.pr_curve(evaluation.labels, scored.scores)
        ap = evaluation.results[name]["average_precision"]
        if len(recall):
            # start at recall 0 so the strictest threshold's precision shows as a plateau
            recall, precision = np.r_[0.0, recall], np.r_[precision[:1], precision]
            pr_axes.step(recall, precision, where="pre", label=f"{name} (AP {_fmt(ap)})")
        fpr, tpr = m.roc_curve(evaluation.labels, scored.scores)
        roc_axes.step(fpr, tpr, where="post", label=f"{name} (AUC {_fmt(evaluation.results[name]['roc_auc'])})")
    pr_axes.set(xlabel="recall", ylabel="precision", xlim=(0, 1.01), ylim=(0, 1.02), title="precision-recall")
    roc_axes.set(xlabel="false positive rate (log)", ylabel="true positive rate", xscale="symlog", title="ROC")
    roc_axes.set_xscale("symlog", linthresh=1e-4)
    roc_axes.set_xlim(0, 1)
    for axes in (pr_axes, roc_axes):
        axes.grid(alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(loc="best", fontsize=8)
    images = _png(pr), _png(roc)
    plt.close(pr)
    plt.close(roc)
    return images


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_html(evaluation: Evaluation, path: Path, *, title: str = "distillguard evaluation") -> None:
    names = list(evaluation.results)
    pr_png, roc_png = _curves(evaluation)
    metrics_rows = [[label, *(_cell(evaluation.results[n], key) for n in names)] for key, label in ROWS]
    campaign_rows = []
    for cid, info in evaluation.truth.get("campaigns", {}).items():
        row = [cid, str(info.get("archetype", "")), str(info.get("accounts", "")), str(info.get("description", ""))]
        row += [_fmt(evaluation.results[n]["campaign_recall"].get(cid)) for n in names]
        campaign_rows.append(row)
    personas = sorted({p for n in names for p in evaluation.results[n]["benign_flagged_by_persona"]})
    persona_rows = []
    for persona in personas:
        cells = [evaluation.results[n]["benign_flagged_by_persona"].get(persona) for n in names]
        accounts = next((c["accounts"] for c in cells if c), 0)
        persona_rows.append([persona, str(accounts), *(f"{c['flagged']}" if c else "-" for c in cells)])
    document = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}
table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}
img{{max-width:49%}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{len(evaluation.accounts)} accounts, {int(evaluation.labels.sum())} in
{len(evaluation.truth.get("campaigns", {}))} campaigns (seed {html.escape(str(evaluation.truth.get("seed")))},
scale {html.escape(str(evaluation.truth.get("scale")))}, {html.escape(str(evaluation.truth.get("days")))} days).
Baselines are computed from the same events; each flags by its own textbook rule.</p>
<h2>Summary</h2>{_table(["metric", *names], metrics_rows)}
<img alt="precision-recall curves" src="data:image/png;base64,{pr_png}">
<img alt="ROC curves" src="data:image/png;base64,{roc_png}">
<h2>Per-campaign member recall</h2>
{_table(["campaign", "archetype", "accounts", "description", *names], campaign_rows)}
<h2>Benign accounts flagged, by persona (hard negatives)</h2>
{_table(["persona", "accounts", *names], persona_rows)}
</body></html>
"""
    path.write_text(document, encoding="utf-8")
