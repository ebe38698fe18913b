"""Jinja environment of the console and the filters its templates use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_VERSION = "1"  # bump when static files change, so browsers drop their cached copy

templates = Jinja2Templates(directory=TEMPLATE_DIR)


def when(value: datetime | float | None, style: str = "short") -> str:
    if value is None:
        return "—"
    moment = datetime.fromtimestamp(value, tz=UTC) if isinstance(value, int | float) else value
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%d %b %Y %H:%M" if style == "short" else "%Y-%m-%d %H:%M:%S UTC")


def score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def actor_name(actor: str | None) -> str:
    """``key:3:alice`` → ``alice``: the key's name is what colleagues know each other by."""
    if not actor:
        return "—"
    parts = actor.split(":", 2)
    return parts[2] if len(parts) == 3 and parts[0] == "key" else actor


def severity(value: float | None) -> str:
    if value is None:
        return "none"
    return "high" if value >= 0.85 else "medium" if value >= 0.7 else "low"


def plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "—" if value is None else str(value)


templates.env.filters.update(when=when, score=score, percent=percent, actor=actor_name, severity=severity,
                             plain=plain)  # fmt: skip
templates.env.globals.update(static_version=STATIC_VERSION)
