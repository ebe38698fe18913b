"""Simulated time: the window, local-time rhythms and countries with their UTC offsets.

All times are epoch seconds (floats) until an event is written; the window starts at a fixed
date so that output does not depend on when the simulator runs.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from app.simulation.draw import weighted

WINDOW_START = datetime(2026, 10, 1, tzinfo=UTC).timestamp()
DAY = 86400.0
HOUR = 3600.0

# country → (UTC offset in hours, weight in the benign population).  A country has one offset
# here: enough for local rhythm, not a timezone database.
COUNTRIES: dict[str, tuple[float, float]] = {
    "US": (-5.0, 0.26), "GB": (0.0, 0.06), "DE": (1.0, 0.06), "FR": (1.0, 0.04), "IN": (5.5, 0.10),
    "BR": (-3.0, 0.05), "JP": (9.0, 0.05), "KR": (9.0, 0.03), "CA": (-5.0, 0.04), "AU": (10.0, 0.03),
    "SG": (8.0, 0.02), "NL": (1.0, 0.02), "PL": (1.0, 0.02), "ES": (1.0, 0.03), "MX": (-6.0, 0.03),
    "ID": (7.0, 0.03), "NG": (1.0, 0.02), "TR": (3.0, 0.02), "VN": (7.0, 0.02), "IT": (1.0, 0.03),
    "US-W": (-8.0, 0.04),
}  # fmt: skip
COUNTRY_WEIGHTS = {c: w for c, (_, w) in COUNTRIES.items()}

# relative request intensity by local hour
LEISURE_HOURS = np.array(
    [0.5, 0.3, 0.15, 0.1, 0.1, 0.15, 0.4, 0.8, 1.2, 1.5, 1.6, 1.7, 1.8, 1.6, 1.5, 1.5, 1.5, 1.6, 1.7, 1.9,
     2.1, 2.0, 1.6, 1.0]
)  # fmt: skip
WORK_HOURS = np.array(
    [0.05, 0.03, 0.02, 0.02, 0.02, 0.05, 0.2, 0.6, 1.6, 2.2, 2.4, 2.2, 1.4, 2.0, 2.3, 2.2, 1.9, 1.3, 0.6, 0.35,
     0.3, 0.25, 0.15, 0.08]
)  # fmt: skip


def pick_country(rng: np.random.Generator) -> tuple[str, float]:
    """A country code (ISO alpha-2) and its UTC offset in hours."""
    key = weighted(rng, COUNTRY_WEIGHTS)
    return key[:2], COUNTRIES[key][0]


def offset_of(country: str) -> float:
    return COUNTRIES.get(country, (0.0, 0.0))[0]


def timezone_name(offset_hours: float) -> str:
    sign = "+" if offset_hours >= 0 else "-"
    minutes = round(abs(offset_hours) * 60)
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


class Window:
    """The simulated observation window, with the model release inside it."""

    def __init__(self, days: float) -> None:
        self.days = days
        self.start = WINDOW_START
        self.end = WINDOW_START + days * DAY
        # the new model ships two days before "now" (mid-window for short windows)
        release_day = days - 2 if days >= 3 else days / 2
        self.release = self.start + release_day * DAY + (16 * HOUR if days >= 3 else 0.0)

    def clip(self, ts: float) -> bool:
        return self.start <= ts < self.end

    def local_day_starts(self, offset_hours: float) -> list[float]:
        """UTC epoch of each local midnight that touches the window."""
        first = self.start - offset_hours * HOUR - DAY
        return [first + i * DAY for i in range(int(self.days) + 3)]

    def is_weekend(self, local_midnight: float, offset_hours: float) -> bool:
        weekday = datetime.fromtimestamp(local_midnight + offset_hours * HOUR + 12 * HOUR, tz=UTC).weekday()
        return weekday >= 5


def local_hour_draw(rng: np.random.Generator, profile: np.ndarray) -> float:
    """A time of day in hours, distributed as ``profile``."""
    cumulative = np.cumsum(profile)
    hour = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    return min(hour, 23) + rng.random()


def rfc3339(ts: float) -> str:
    """Epoch seconds → ``2026-10-01T08:15:32.123Z`` (millisecond precision)."""
    millis = round(ts * 1000)
    whole = datetime.fromtimestamp(millis // 1000, tz=UTC)
    return f"{whole:%Y-%m-%dT%H:%M:%S}.{millis % 1000:03d}Z"
