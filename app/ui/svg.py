"""Server-drawn SVG charts for the cluster page: no JavaScript library and nothing fetched from the internet.

Every mark carries a ``<title>`` so hovering shows the exact figure; every chart is an ``<svg>`` with a
``data-chart`` attribute and a viewBox, so it scales with the page and tests can find it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape

from app.review.charts import Activity, Coverage, Graph

CLUSTER = "#c2410c"
POPULATION = "#64748b"
KIND_COLOURS = {"ip": "#2563eb", "payment": "#059669", "template": "#7c3aed"}
KIND_NAMES = {"ip": "IP address", "payment": "payment fingerprint", "template": "prompt template"}


def _svg(kind: str, width: float, height: float, body: list[str], label: str) -> Markup:
    return Markup(
        f'<svg data-chart="{kind}" class="chart" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>"
    )


def _mix(low: tuple[int, int, int], high: tuple[int, int, int], t: float) -> str:
    r, g, b = (round(lo + (hi - lo) * t) for lo, hi in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def _day(hour_index: int) -> datetime:
    return datetime.fromtimestamp(hour_index * 3600, tz=UTC)


def heatmap(activity: Activity, *, which: str) -> Markup:
    """Hour of day by day, shaded by the share of the group's requests in that hour (cluster or population)."""
    counts = activity.cluster if which == "cluster" else activity.population
    low, high = ((255, 247, 237), (154, 52, 18)) if which == "cluster" else ((241, 245, 249), (30, 41, 59))
    total = sum(counts) or 1
    peak = max(counts) or 1
    cell_w, cell_h, left, top = 16, 14, 74, 18
    body = [
        f'<text x="{left + h * cell_w + cell_w / 2}" y="12" class="tick" text-anchor="middle">{h:02d}</text>'
        for h in range(0, 24, 3)
    ]
    for d, row in enumerate(activity.by_day(counts)):
        day = _day(activity.first_hour + d * 24)
        y = top + d * cell_h
        body.append(f'<text x="{left - 6}" y="{y + cell_h - 4}" class="tick" text-anchor="end">'
                    f'{day:%a %d %b}</text>')  # fmt: skip
        for h, n in enumerate(row):
            colour = _mix(low, high, (n / peak) ** 0.6) if n else "#f8fafc"
            body.append(
                f'<rect x="{left + h * cell_w}" y="{y}" width="{cell_w - 1}" height="{cell_h - 1}" fill="{colour}">'
                f"<title>{day:%a %d %b} {h:02d}:00 UTC: {n} requests ({100 * n / total:.1f}%)</title></rect>"
            )
    height = top + activity.n_days * cell_h + 4
    return _svg(f"heatmap-{which}", left + 24 * cell_w + 4, height, body, f"activity heatmap of the {which}")


def timeline(activity: Activity) -> Markup:
    """Requests per hour of the cluster, with the population's curve scaled to the same peak for shape."""
    width, height, left, right, top, bottom = 760, 190, 44, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(activity.cluster)
    peak = max(activity.cluster) or 1
    population_peak = max(activity.population) or 1

    def x(i: int) -> float:
        return left + plot_w * i / max(n - 1, 1)

    def points(values: list[int], scale: float) -> str:
        return " ".join(f"{x(i):.1f},{top + plot_h - plot_h * v / scale:.1f}" for i, v in enumerate(values))

    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" class="axis"/>']
    for fraction in (0.5, 1.0):
        y = top + plot_h - plot_h * fraction
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" class="grid"/>')
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{peak * fraction:.0f}</text>')
    for d in range(0, activity.n_days, max(1, activity.n_days // 7)):
        day = _day(activity.first_hour + d * 24)
        body.append(f'<text x="{x(d * 24):.1f}" y="{height - 8}" class="tick">{day:%d %b}</text>')
    body.append(f'<polyline points="{points(activity.population, population_peak)}" fill="none" stroke="{POPULATION}" '
                'stroke-width="1.2" stroke-dasharray="4 3" class="population-line"/>')  # fmt: skip
    area = f"{left},{top + plot_h} " + points(activity.cluster, peak) + f" {x(n - 1):.1f},{top + plot_h}"
    body.append(f'<polygon points="{area}" fill="{CLUSTER}" fill-opacity="0.15"/>')
    body.append(f'<polyline points="{points(activity.cluster, peak)}" fill="none" stroke="{CLUSTER}" '
                f'stroke-width="1.6" class="cluster-line"><title>{sum(activity.cluster)} requests by the cluster'
                f"</title></polyline>")  # fmt: skip
    return _svg("timeline", width, height, body, "requests per hour")


def bars(coverage: Coverage, *, kind: str) -> Markup:
    """Paired horizontal bars: share of the cluster's requests and of the population's, per category."""
    label_w, bar_w, row_h, top = 210, 330, 30, 6
    peak = max([*coverage.cluster, *coverage.population, 0.01])
    body = []
    for i, (label, ours, theirs) in enumerate(zip(coverage.labels, coverage.cluster, coverage.population,
                                                   strict=True)):  # fmt: skip
        y = top + i * row_h
        short = label if len(label) <= 34 else label[:33] + "…"
        body.append(f'<text x="{label_w - 8}" y="{y + 14}" class="label" text-anchor="end">{escape(short)}'
                    f"<title>{escape(label)}</title></text>")  # fmt: skip
        for offset, share, colour, who in ((0, ours, CLUSTER, "cluster"), (12, theirs, POPULATION, "population")):
            w = max(bar_w * share / peak, 1 if share else 0)
            body.append(
                f'<rect x="{label_w}" y="{y + offset}" width="{w:.1f}" height="10" fill="{colour}" rx="1.5">'
                f"<title>{escape(label)}: {100 * share:.1f}% of the {who}'s requests</title></rect>"
            )
            body.append(f'<text x="{label_w + w + 5:.1f}" y="{y + offset + 9}" class="value">{100 * share:.0f}%</text>')
    height = top + len(coverage.labels) * row_h + 4
    return _svg(f"bars-{kind}", label_w + bar_w + 48, height, body, f"{kind} coverage, cluster vs population")


def _marker(kind: str, cx: float, cy: float, r: float, fill: str) -> str:
    if kind == "payment":
        return f'<polygon points="{cx},{cy - r} {cx + r},{cy} {cx},{cy + r} {cx - r},{cy}" fill="{fill}"/>'
    if kind == "template":
        return f'<polygon points="{cx},{cy - r} {cx + r},{cy + r * 0.8} {cx - r},{cy + r * 0.8}" fill="{fill}"/>'
    if kind == "ip":
        return f'<rect x="{cx - r * 0.85}" y="{cy - r * 0.85}" width="{r * 1.7}" height="{r * 1.7}" fill="{fill}"/>'
    return f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="{fill}" stroke="#fff" stroke-width="1"/>'


def risk_colour(risk: float | None) -> str:
    if risk is None:
        return "#94a3b8"
    return _mix((251, 191, 36), (185, 28, 28), min(max(risk, 0.0), 1.0))


def graph(data: Graph) -> Markup:
    """Accounts (circles, shaded by risk) linked to the IPs, payment fingerprints and templates they share."""
    width, height, pad = 760, 440, 28

    def at(node_x: float, node_y: float) -> tuple[float, float]:
        return round(pad + node_x * (width - 2 * pad), 1), round(pad + node_y * (height - 2 * pad), 1)

    body = []
    for a, b in data.edges:
        (x1, y1), (x2, y2) = at(data.nodes[a].x, data.nodes[a].y), at(data.nodes[b].x, data.nodes[b].y)
        body.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" class="edge" data-a="{a}" data-b="{b}"/>')
    for i, node in enumerate(data.nodes):
        cx, cy = at(node.x, node.y)
        if node.kind == "account":
            r, fill = 6.5, risk_colour(node.risk)
            risk = "unscored" if node.risk is None else f"risk {node.risk:.2f}"
            title = f"account {node.label} ({risk})"
        else:
            r, fill = 5 + min(node.accounts, 30) ** 0.5 * 1.2, KIND_COLOURS[node.kind]
            title = f"{KIND_NAMES[node.kind]} {node.key}, shared by {node.accounts} accounts"
        body.append(f'<g class="node node-{node.kind}" data-node="{i}"><title>{escape(title)}</title>'
                    + _marker(node.kind, cx, cy, r, fill))  # fmt: skip
        if node.labelled:  # labels near the right edge go to the left of their mark, so none is cut off
            left_side = cx > width * 0.8
            x, anchor = (cx - r - 3, "end") if left_side else (cx + r + 3, "start")
            body.append(f'<text x="{x}" y="{cy + 3.5}" class="node-label" text-anchor="{anchor}">'
                        f"{escape(node.label)}</text>")  # fmt: skip
        body.append("</g>")
    return _svg("graph", width, height, body, "shared infrastructure graph")
