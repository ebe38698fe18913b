"""Linking at scale: big crews stay linked as the population grows, popular tools stay apart.

Two things used to break a crew of a few hundred accounts apart in a population of tens of thousands (the
simulator's low_and_slow campaign at scale 7: 210 accounts, member recall 0.58):

* a group above ``max_group_size`` is expanded into a sparse sample of its pairs, and each kind drew its own random
  sample, so a crew's request shape and its wrapper landed on different pairs and never added up;
* an attribute used by more than ``max_group_size`` accounts counted as a popular tool's stock setting whatever the
  population, so the crew's own harness was no evidence at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from detectors.events import account_frame, to_event_frame
from detectors.linking import LinkingConfig, link_accounts
from detectors.linking.inputs import prepare
from detectors.linking.pairs import group_pairs, nominated_group_pairs
from detectors.linking.schedule import locked_schedules, schedule_pairs
from detectors.linking.signup import signup_pairs

BASE_TS = 1_790_000_000.0
WORDS = ("cat", "dog", "why", "how", "sky", "blue", "code", "rust", "poem", "love", "war", "tax", "tree", "milk",
         "sun", "moon", "car", "bus", "rain", "song", "bread", "city", "lake", "road", "wine", "gold")  # fmt: skip
CREW_WRAPPER = "Work through the task below in numbered steps and then give the final answer on its own line."
TOOL_SYSTEM = "You are the coding assistant inside an editor. Keep answers short and show code first."


def _pairs_of(groups: np.ndarray, members: np.ndarray, wanted: int) -> set[tuple[int, int]]:
    i, j = group_pairs(groups, members, max_group_size=50, degree=4, seed=3)
    keep = groups[i] == wanted
    return {(int(a), int(b)) for a, b in zip(members[i][keep], members[j][keep], strict=True)}


def test_big_groups_with_the_same_members_are_expanded_into_the_same_pairs() -> None:
    rng = np.random.default_rng(0)
    crew = rng.choice(10_000, size=400, replace=False).astype(np.int64)
    shorter = np.delete(crew, 17)  # the same crew but one account, on another attribute
    groups = np.concatenate([np.zeros(400), np.ones(400), np.full(399, 2)]).astype(np.int64)
    members = np.concatenate([crew, rng.permutation(crew), rng.permutation(shorter)])
    first, second, third = (_pairs_of(groups, members, g) for g in (0, 1, 2))
    assert 400 * 3 < len(first) <= 400 * 4  # about n * degree pairs, not n(n-1)/2
    assert first == second  # input order does not matter, and two kinds' samples coincide
    assert len(first & third) >= 0.95 * len(third)  # one account fewer moves only its neighbours' pairs
    # the pairs are a sample of the crew's, not drawn again per group: an independent sample would share ~1%
    assert len(first & third) > 50 * len(third) * 4 / 399


def _event(account: str, k: int, text: str, *, client: tuple[str, str], system: str | None = None,
           **fields: Any) -> dict[str, Any]:  # fmt: skip
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    offset = int(account[-4:]) * 7 % 3000  # accounts' hours start apart: nobody ticks with anybody
    return {"request_id": f"{account}-{k}", "account_id": account, "ts": BASE_TS + 3600.0 * k + offset,
            "messages": messages, "tls_fingerprint": client[0], "user_agent": client[1], **fields}  # fmt: skip


def _population(*, strangers: int, crew: int, tool_users: int, seed: int = 0) -> pd.DataFrame:
    """Strangers on stock clients who pick common settings independently; a crew driven by one script (its own
    client build, one exact request shape, one wrapper around varied tasks); the users of a popular editor tool
    (its client, its settings and its system prompt, each user with their own tasks)."""
    rng = np.random.default_rng(seed)
    stock = [(f"t13d{n}_stock", f"python-sdk/1.{n}") for n in range(8)]
    rows: list[dict[str, Any]] = []
    for i in range(strangers):
        client = stock[int(rng.integers(len(stock)))]
        shape = {
            "max_tokens": [None, 1024, 2048, 4096][int(rng.integers(4))],
            "temperature": [None, 0.2, 0.7, 1.0][int(rng.integers(4))],
            "stream": bool(rng.integers(2)),
        }
        for k in range(int(rng.integers(4, 9))):
            rows.append(_event(f"user{i:05d}", k, " ".join(rng.choice(WORDS, size=10)), client=client, **shape))
    for i in range(crew):
        for k in range(8):
            task = " ".join(rng.choice(WORDS, size=10))
            rows.append(_event(f"crew{i:04d}", k, f"{CREW_WRAPPER}\n\n{task}", client=("t13d9_crewbot", "crewbot/0.3"),
                               max_tokens=12000, temperature=0.75, top_p=0.95, stream=False))  # fmt: skip
    for i in range(tool_users):
        for k in range(int(rng.integers(4, 9))):
            rows.append(_event(f"tool{i:04d}", k, " ".join(rng.choice(WORDS, size=10)), system=TOOL_SYSTEM,
                               client=("t13d5_editor", "editor-tool/2.3"), max_tokens=8192, temperature=0.2,
                               top_p=1.0, stream=True))  # fmt: skip
    return to_event_frame(rows)


def _largest_share(clusters: pd.DataFrame, prefix: str) -> tuple[float, int]:
    """(share of the group's accounts in its largest cluster, accounts of other groups in that cluster)."""
    labels = clusters["cluster_label"]
    own = labels[labels.index.str.startswith(prefix)]
    biggest = own.value_counts().index[0]
    members = labels[labels == biggest].index
    return float((own == biggest).mean()), int((~members.str.startswith(prefix)).sum())


def test_a_big_crew_on_its_own_harness_is_linked_where_a_popular_tool_is_not() -> None:
    """A crew of 200 is 3% of 6,500 accounts: its harness is its own, and it is linked whole; a tool that 600 of them
    (9%) use is a popular tool, and its users stay apart.  In a population of 1,000 the same crew is 20% of the
    accounts, as popular as a tool, and is not linked: popularity is relative to the population."""
    events = _population(strangers=5_700, crew=200, tool_users=600)
    clusters = link_accounts(events, pd.DataFrame(), config=LinkingConfig()).clusters
    share, intruders = _largest_share(clusters, "crew")
    assert share >= 0.95 and intruders == 0
    tool_share, _ = _largest_share(clusters, "tool")
    assert tool_share < 0.01
    # the absolute cap (popularity as max_group_size accounts whatever the population) left this crew unlinked
    absolute = link_accounts(events, pd.DataFrame(), config=LinkingConfig(popular_share=0.0)).clusters
    assert _largest_share(absolute, "crew")[0] < 0.05

    small = _population(strangers=700, crew=200, tool_users=100)
    assert _largest_share(link_accounts(small, pd.DataFrame(), config=LinkingConfig()).clusters, "crew")[0] < 0.05


def test_nominated_pairs_are_evaluated_on_the_large_groups_they_share() -> None:
    groups = np.array([0] * 60 + [1, 1, 1] + [0], dtype=np.int64)
    members = np.array([*range(60), 100, 101, 102, 200], dtype=np.int64)  # 200 joins the big group 0 as well
    a = np.array([3, 5, 100, 7, 3], dtype=np.int64)
    b = np.array([41, 200, 101, 500, 41], dtype=np.int64)  # (100, 101): small group; (7, 500): 500 is nowhere
    i, j = nominated_group_pairs(groups, members, a, b, max_group_size=50)
    found = sorted(zip(members[i].tolist(), members[j].tolist(), groups[i].tolist(), groups[j].tolist(), strict=True))
    assert found == [(3, 41, 0, 0), (3, 41, 0, 0), (5, 200, 0, 0)]  # a pair nominated twice is found twice
    empty_i, _ = nominated_group_pairs(groups, members, a, b, max_group_size=100)  # no group is large
    assert len(empty_i) == 0


def _clocked_crew(*, crew: int, bursts: int, strangers: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A crew driven by one job runner (15-minute ticks, 37 s past the minute), ~30 requests an account over three
    days, no shared address, client or text, signed up in bursts of ``crew / bursts`` accounts a day apart from
    look-alike throwaway domains; strangers at random times with ordinary sign-ups."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    accounts: list[dict[str, Any]] = []
    ticks = 3 * 96
    per_burst = crew // bursts
    for i in range(crew):
        name = f"crew{i:04d}"
        created = BASE_TS - 86_400.0 * (5 + i // per_burst) + rng.uniform(0, 1800)
        accounts.append({"account_id": name, "created_at": created, "signup_channel": "api",
                         "email_domain": f"mx{int(rng.integers(1000))}.top"})  # fmt: skip
        for k, tick in enumerate(sorted(rng.choice(ticks, size=30, replace=False))):
            ts = BASE_TS + 900.0 * tick + 37.0 + rng.uniform(0, 4)
            rows.append({"request_id": f"{name}-{k}", "account_id": name, "ts": ts, "ip": f"10.{i // 250}.{i % 250}.9",
                         "messages": [{"role": "user", "content": " ".join(rng.choice(WORDS, size=10))}]})  # fmt: skip
    for i in range(strangers):
        name = f"user{i:05d}"
        created = BASE_TS - 86_400.0 * rng.uniform(5, 400)
        domain = ["gmail.com", "outlook.com", "yahoo.com"][i % 3]
        accounts.append({"account_id": name, "created_at": created, "signup_channel": "web", "email_domain": domain})
        for k, ts in enumerate(np.sort(rng.uniform(BASE_TS, BASE_TS + 3 * 86_400.0, size=30))):
            rows.append({"request_id": f"{name}-{k}", "account_id": name, "ts": float(ts),
                         "ip": f"172.{16 + i // 250}.{i % 250}.3",
                         "messages": [{"role": "user", "content": " ".join(rng.choice(WORDS, size=10))}]})  # fmt: skip
    return to_event_frame(rows), account_frame(accounts)


def test_a_crew_on_one_clock_larger_than_a_group_is_linked_through_its_signup_bursts() -> None:
    """400 accounts on one scheduler clock are a group far above ``max_group_size`` (150): it is expanded into
    ~6 pairs per account, and a pair of that sample rarely falls in one sign-up burst (40 accounts), so the clock
    (which never links alone) and the bursts (which need an identity kind) used to meet on a few pairs only.
    The bursts' pairs are now evaluated on the clock's group: each burst is linked whole, strangers are not."""
    events, accounts = _clocked_crew(crew=400, bursts=10, strangers=2000)
    config = LinkingConfig()
    data = prepare(events, accounts, None)
    locked = locked_schedules(data)
    crew_codes = np.flatnonzero(data.account_ids.str.startswith("crew"))
    assert set(locked["account"]) == set(crew_codes)  # the clock is found, and only the crew has it
    bursts = signup_pairs(data, config)
    bursts = bursts[np.isin(bursts["a"], crew_codes) & np.isin(bursts["b"], crew_codes)]
    sampled = schedule_pairs(data, config, locked)
    evaluated = schedule_pairs(data, config, locked, nominated=bursts)

    def covered(pairs: pd.DataFrame) -> float:
        keys = set(zip(pairs["a"].tolist(), pairs["b"].tolist(), strict=True))
        return float(np.mean([(a, b) in keys for a, b in zip(bursts["a"], bursts["b"], strict=True)]))

    assert len(bursts) == 10 * 40 * 39 // 2
    assert covered(sampled) < 0.15  # the sample's share of the bursts' pairs (~6 of the 399 partners an account)
    assert covered(evaluated) == 1.0

    clusters = link_accounts(events, accounts, config=config).clusters
    labels = clusters["cluster_label"]
    for burst in range(10):
        members = labels[[f"crew{i:04d}" for i in range(40 * burst, 40 * burst + 40)]]
        biggest = members.value_counts()
        assert biggest.iloc[0] >= 38, biggest.head(3).to_dict()
        assert not labels[labels == biggest.index[0]].index.str.startswith("user").any()
