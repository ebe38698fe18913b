"""Shared scheduler clock: accounts locked onto one phase of one period, found per account by Rayleigh's test.

A crew of quiet accounts (about 20 requests a day each, nothing shared but a sign-up burst and its job runner's
15-minute ticks) links into one cluster; without the schedule kind it does not.  Strangers' hourly cron jobs at :00
share a schedule too, and stay apart: the kind cannot link on its own.  People, bursts and clocks at other phases
are not taken for a schedule.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from detectors.events import account_frame, to_event_frame
from detectors.linking import Linking, LinkingConfig, link_accounts, schedule
from detectors.linking.inputs import prepare
from detectors.linking.schedule import MIN_CYCLES, locked_schedules, schedule_pairs

DAY = 86_400.0
START = 1_790_000_000.0 - (1_790_000_000.0 % DAY)  # a UTC midnight
DAYS = 5
CREW = tuple(f"crew{k:02d}" for k in range(24))
CRONS = tuple(f"cron{k:02d}" for k in range(12))
PEOPLE = tuple(f"user{k:03d}" for k in range(150))
TICK = 900.0
PHASE = 437.0  # the crew's runner starts its ticks 7:17 past a quarter hour


_ADDRESSES: dict[str, str] = {}


def _event(account: str, ts: float, n: int, rng: np.random.Generator, **fields: Any) -> dict[str, Any]:
    """One request from the account's own address (no two accounts share one)."""
    words = " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "omega", "sigma"], size=8))
    k = _ADDRESSES.setdefault(account, str(len(_ADDRESSES)))
    ip = f"100.{64 + int(k) // 65_536}.{int(k) // 256 % 256}.{int(k) % 256}"
    return {"request_id": f"{account}-{n}", "account_id": account, "ts": ts, "model": "m-1", "ip": ip,
            "messages": [{"role": "user", "content": f"{words} {n}"}], **fields}  # fmt: skip


def _population(seed: int = 3) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    accounts: list[dict[str, Any]] = []
    burst = START - 2 * DAY
    # the crew: each tick of 16 working hours a day, each account fires with probability 0.3, up to 90 s late;
    # every account has its own client, address and card, but they were signed up within one hour
    ticks = [START + d * DAY + 6 * 3600 + PHASE + k * TICK for d in range(DAYS) for k in range(64)]
    for i, account in enumerate(CREW):
        client = {"user_agent": f"client-{i}/1.{i}", "tls_fingerprint": f"t13d_{i}"}
        for tick in ticks:
            if rng.random() < 0.3:
                rows.append(_event(account, tick + abs(rng.normal()) * 45.0, len(rows), rng, **client))
        accounts.append({"account_id": account, "created_at": burst + rng.random() * 3600.0,
                         "email_domain": "mail-77.xyz", "signup_channel": "web",
                         "payment_fingerprint": f"card-{i}"})  # fmt: skip
    # strangers' cron jobs: every hour at :00 (a few seconds late), each with its own everything, signed up apart
    for i, account in enumerate(CRONS):
        client = {"user_agent": f"cron-client-{i}", "tls_fingerprint": f"t13d_cron{i}"}
        for hour in range(DAYS * 24):
            rows.append(_event(account, START + hour * 3600.0 + rng.random() * 4.0, len(rows), rng, **client))
        accounts.append({"account_id": account, "created_at": START - (30 + 9 * i) * DAY,
                         "email_domain": f"company{i}.com", "signup_channel": "sales",
                         "payment_fingerprint": f"corp-{i}"})  # fmt: skip
    # people: Poisson sessions at any minute of their daytime, each session a burst of a few requests
    for account in PEOPLE:
        for day in range(DAYS):
            for _ in range(int(rng.poisson(2.0))):
                at = START + day * DAY + rng.uniform(8, 22) * 3600.0
                for k in range(1 + int(rng.poisson(4.0))):
                    rows.append(_event(account, at + k * rng.uniform(20, 120), len(rows), rng,
                                       user_agent="Mozilla/5.0", tls_fingerprint="t13d_chrome"))  # fmt: skip
        accounts.append({"account_id": account, "created_at": START - rng.uniform(10, 400) * DAY,
                         "email_domain": "gmail.com", "signup_channel": "web"})  # fmt: skip
    return rows, accounts


@pytest.fixture(scope="module")
def population() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, accounts = _population()
    return to_event_frame(rows, "hashed"), account_frame(accounts)


def _names(frame: pd.DataFrame, accounts: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    data = prepare(frame, accounts, None)
    return locked_schedules(data), np.asarray(data.account_ids.astype(str))


def test_the_crew_locks_onto_its_ticks_and_nobody_else_does_except_the_crons(population: Any) -> None:
    frame, accounts = population
    locked, names = _names(frame, accounts)
    who = pd.Series(names[locked["account"].to_numpy()])
    assert set(who[who.str.startswith("crew")]) == set(CREW)
    assert set(who[who.str.startswith("cron")]) == set(CRONS)
    assert not who.str.startswith("user").any()  # 150 people with sessions at random minutes: no false lock
    crew = locked[who.str.startswith("crew").to_numpy()]
    # the longest locked period is the tick, not 30 minutes (ticks there fall on two opposite phases)
    assert (crew["period_s"] == TICK).all()
    lag = (crew["phase_s"] - PHASE) % TICK
    assert (np.minimum(lag, TICK - lag) < 60.0).all()  # half-normal lateness of 45 s: the mean is ~36 s late
    crons = locked[who.str.startswith("cron").to_numpy()]
    assert (crons["period_s"] == 3600).all()


def test_one_long_burst_and_too_few_cycles_are_not_a_clock() -> None:
    rng = np.random.default_rng(5)
    rows = [_event("burst", START + k * 12.0, k, rng) for k in range(400)]  # 80 minutes non-stop
    rows += [_event("few", START + k * TICK + 3.0, 1000 + k, rng) for k in range(MIN_CYCLES - 1)]
    rows += [_event("ticker", START + k * 2 * TICK + 3.0, 2000 + k, rng) for k in range(40)]
    locked, names = _names(to_event_frame(rows), account_frame([]))
    found = dict(zip(names[locked["account"].to_numpy()], locked["period_s"], strict=True))
    assert "burst" not in found and "few" not in found
    assert found["ticker"] == 1800  # every 30 minutes: locked at 30 (and 15, 5), reported at the longest


def test_shared_schedule_pairs_stay_within_one_phase(population: Any) -> None:
    frame, accounts = population
    data = prepare(frame, accounts, None)
    pairs = schedule_pairs(data, LinkingConfig())
    names = np.asarray(data.account_ids.astype(str))
    a, b = names[pairs["a"].to_numpy()], names[pairs["b"].to_numpy()]
    crew_pairs = np.char.startswith(a.astype(str), "crew") & np.char.startswith(b.astype(str), "crew")
    cron_pairs = np.char.startswith(a.astype(str), "cron") & np.char.startswith(b.astype(str), "cron")
    assert (crew_pairs | cron_pairs).all()  # never a crew member with a cron job: other period, other phase
    assert crew_pairs.sum() == len(CREW) * (len(CREW) - 1) // 2
    strength = 1.0 - np.exp(-pairs["raw"].to_numpy())
    most = LinkingConfig().kind_weight("schedule")
    assert most * strength.max() < LinkingConfig().min_edge_weight  # never links on its own
    assert (strength[crew_pairs] > 0.5).all()


def _link(population: Any, config: LinkingConfig | None = None) -> Linking:
    frame, accounts = population
    return link_accounts(frame, accounts, config=config)


def test_the_crew_links_on_its_clock_and_sign_ups_and_the_crons_do_not(population: Any) -> None:
    linking = _link(population)
    labels = linking.clusters["cluster_label"]
    crew = labels.reindex(list(CREW))
    assert crew.nunique() == 1
    members = set(labels.index[labels == crew.iloc[0]])
    assert members == set(CREW)
    assert labels.reindex(list(CRONS)).nunique() == len(CRONS)  # one :00 clock, nothing else: twelve singletons
    evidence = {entry["kind"]: entry for entry in linking.evidence[str(crew.iloc[0])]}
    assert "schedule" in evidence and "signup" in evidence
    assert evidence["schedule"]["stats"]["period_minutes"] == 15
    assert evidence["schedule"]["stats"]["members"] == len(CREW)
    assert "every 15 minutes, 7:" in evidence["schedule"]["text"]
    features = linking.cluster_features.loc[crew.iloc[0]]
    assert features["schedule_phase_spread_seconds"] < 60.0

    without = _link(population, LinkingConfig(kind_weights={**LinkingConfig().kind_weights, "schedule": 0.0}))
    sizes = without.clusters["cluster_label"].reindex(list(CREW)).value_counts()
    assert sizes.max() == 1, "the sign-up burst alone is behaviour evidence and must not link the crew"


def test_strangers_crons_on_one_cloud_subnet_with_one_template_stay_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cron convention at its worst: the twelve :00 jobs also share a popular SDK, one cloud /24 (an address
    each) and one prompt template.  Subnet, template and a full-weight clock would add up to an edge; two clocks
    both on the minute count for half, and they stay twelve singletons.  The crew, whose requests trail its ticks
    by tens of seconds, is unaffected.  Without the discount the crons would link."""
    rows, accounts = _population()
    for row in rows:
        account = str(row["account_id"])
        if account.startswith(("cron", "user")):
            row.update(user_agent="python-requests/2.31.0", tls_fingerprint="t13d_py")
        if account.startswith("cron"):
            k = int(account[4:])
            row["ip"] = f"34.120.5.{10 + k}"
            row["messages"] = [{"role": "user", "content": f"Summarise ticket {row['request_id']} for team {k}."}]
    linking = link_accounts(to_event_frame(rows, "hashed"), account_frame(accounts))
    labels = linking.clusters["cluster_label"]
    assert labels.reindex(list(CRONS)).nunique() == len(CRONS)
    assert labels.reindex(list(CREW)).nunique() == 1
    data = prepare(to_event_frame(rows, "hashed"), account_frame(accounts), None)
    names = np.asarray(data.account_ids.astype(str))

    def cron_raw() -> float:
        pairs = schedule_pairs(data, LinkingConfig())
        crons = np.char.startswith(names[pairs["a"].to_numpy()].astype(str), "cron")
        return float(pairs["raw"][crons].max())

    discounted = cron_raw()
    monkeypatch.setattr(schedule, "ON_MINUTE_DISCOUNT", 0.0)
    assert discounted == pytest.approx(0.5 * cron_raw())
    without_discount = link_accounts(to_event_frame(rows, "hashed"), account_frame(accounts))
    assert without_discount.clusters["cluster_label"].reindex(list(CRONS)).nunique() < len(CRONS)


def test_rayleigh_bound_holds_for_uniform_phases() -> None:
    """300 accounts with 60 requests each at uniformly random times over five days: none locked (the bound allows
    a 1% family-wise chance of one)."""
    rng = np.random.default_rng(11)
    rows = [_event(f"u{i}", START + rng.random() * DAYS * DAY, i * 100 + k, rng) for i in range(300) for k in range(60)]
    locked, _ = _names(to_event_frame(rows), account_frame([]))
    assert locked.empty
    assert math.log(300 * 6 / 0.01) < 13  # the z bound this population is held to (e^-13 per test)
