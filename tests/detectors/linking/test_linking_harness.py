"""One harness's fingerprints: the exact request shape and the prompt wrapper that its accounts share.

Each kind must link a crew driven by one script and leave alone the strangers who merely made common choices:
SDK defaults, popular parameter values that meet by chance, a popular system prompt, a stray request.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from detectors.events import Retention, account_frame, to_event_frame
from detectors.linking import LinkingConfig, link_accounts
from detectors.linking.inputs import LinkingInput, prepare
from detectors.linking.pairs import surprise_weight
from detectors.linking.request_shape import request_shape_pairs
from detectors.linking.wrappers import wrapper_pairs

BASE_TS = 1_790_000_000.0
TOPICS = ("graph theory", "tax law", "optics", "ecology", "compilers", "game theory", "number theory", "enzymes",
          "tectonics", "auctions", "fluid flow", "typography", "glaciers", "memory safety", "contract law")  # fmt: skip
WORDS = ("cat", "dog", "why", "how", "sky", "blue", "code", "rust", "poem", "love", "war", "tax", "tree", "milk",
         "sun", "moon", "car", "bus", "rain", "song", "bread", "city", "lake", "road", "wine", "gold")  # fmt: skip
WRAPPER = "Reason about the problem in detail first. Answer in JSON with the keys reasoning and answer."
CREW = ("crew0", "crew1", "crew2", "crew3")


def _request(account: str, k: int, text: str, **fields: Any) -> dict[str, Any]:
    return {"request_id": f"{account}-{k}", "account_id": account, "ts": BASE_TS + 60.0 * k,
            "messages": [{"role": "user", "content": text}], **fields}  # fmt: skip


def _population(seed: int = 0) -> list[dict[str, Any]]:
    """A crew whose script sends one rare shape and wraps varied tasks in one instruction; 150 strangers who pick
    common values independently (many meet on the same combination by chance), SDK-default users, a popular
    system prompt, and one stranger who once sent the crew's exact shape and wrapper."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for account in CREW:
        for k in range(40):
            task = f"Explain {TOPICS[(k * 7 + CREW.index(account)) % len(TOPICS)]} for case {k}"
            text = f"{WRAPPER}\n\n{task}" if k % 2 else task
            rows.append(_request(account, k, text, max_tokens=12000, temperature=0.75, top_p=0.95, stream=False))
    for i in range(150):
        account = f"user{i:03d}"
        shape = {"max_tokens": [None, 1024, 4096][int(rng.integers(3))],
                 "temperature": [None, 0.7][int(rng.integers(2))], "stream": bool(rng.integers(2))}  # fmt: skip
        system = "You are a helpful assistant." if i % 3 == 0 else None
        for k in range(int(rng.integers(5, 20))):
            text = " ".join(rng.choice(WORDS, size=int(rng.integers(6, 14))))
            messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
            rows.append({**_request(account, k, text, **shape), "messages": messages})
    for k in range(30):  # one request through the crew's harness among 29 of its own
        text = " ".join(rng.choice(WORDS, size=10))
        if k == 0:
            rows.append(_request("stray", k, f"{WRAPPER}\n\n{text}", max_tokens=12000, temperature=0.75, top_p=0.95))
        else:
            rows.append(_request("stray", k, text, max_tokens=2048))
    return rows


def _data(rows: list[dict[str, Any]], retention: Retention = "full") -> LinkingInput:
    return prepare(to_event_frame(rows, retention), None, None)


def _linked(pairs: pd.DataFrame, data: LinkingInput, floor: float) -> set[tuple[str, str]]:
    strong = pairs[pairs["raw"] >= floor]
    ids = data.account_ids
    return {(str(ids[a]), str(ids[b])) for a, b in zip(strong["a"], strong["b"], strict=True)}


def _crew_pairs() -> set[tuple[str, str]]:
    return {(a, b) for i, a in enumerate(CREW) for b in CREW[i + 1 :]}


def test_the_exact_request_shape_links_a_crew_and_not_strangers_on_common_values() -> None:
    data = _data(_population())
    pairs = request_shape_pairs(data, LinkingConfig())
    assert _linked(pairs, data, 0.3) == _crew_pairs()
    # strangers who picked max_tokens=1024, temperature=0.7 meet as often as chance says: (almost) no evidence
    others = pairs[~pairs["a"].isin(data.account_ids.get_indexer(list(CREW)))]
    assert (others["raw"] < 0.15).all()


def test_sdk_defaults_and_stock_settings_are_no_request_shape_evidence() -> None:
    rows = [_request(f"u{i}", k, "hello there how are you today") for i in range(6) for k in range(10)]
    assert request_shape_pairs(_data(rows), LinkingConfig()).empty
    # one exact combination used by more accounts than max_group_size is a stock setting
    rows = [_request(f"u{i}", k, "hi", max_tokens=777, top_p=0.5) for i in range(40) for k in range(4)]
    rows += [_request(f"v{i}", k, "hi", max_tokens=int(100 + i)) for i in range(40) for k in range(4)]
    assert request_shape_pairs(_data(rows), LinkingConfig(max_group_size=30)).empty


def test_a_shared_wrapper_links_a_crew_and_a_popular_system_prompt_or_a_stray_request_does_not() -> None:
    data = _data(_population())
    pairs = wrapper_pairs(data, LinkingConfig())
    assert _linked(pairs, data, 0.3) == _crew_pairs()
    # a third of the strangers send "You are a helpful assistant.": popular, so weighted down
    others = pairs[~pairs["a"].isin(data.account_ids.get_indexer(list(CREW)))]
    assert len(others) > 0 and (others["raw"] < 0.25).all()
    stray = data.account_ids.get_loc("stray")
    assert not ((pairs["a"] == stray) | (pairs["b"] == stray)).any()


def test_a_system_prompt_wrapper_links_only_with_its_text_kept() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for account in ("s0", "s1", "s2"):
        for k in range(12):
            task = " ".join(rng.choice(WORDS, size=12))
            messages = [{"role": "system", "content": WRAPPER}, {"role": "user", "content": task}]
            rows.append({**_request(account, k, task), "messages": messages})
    for i in range(30):
        rows += [_request(f"u{i}", k, " ".join(rng.choice(WORDS, size=12))) for k in range(12)]
    full = _data(rows, "full")
    assert len(_linked(wrapper_pairs(full, LinkingConfig()), full, 0.3)) == 3
    hashed = _data(rows, "hashed")
    assert wrapper_pairs(hashed, LinkingConfig()).empty


def test_a_harness_crew_is_one_cluster_that_explains_itself() -> None:
    rows = _population()
    # the crew's harness also runs one client build that few others use
    for row in rows:
        if row["account_id"] in CREW:
            row.update(user_agent="python-httpx/0.27.2", tls_fingerprint="t13d1516h2_8daaf6152771")
    accounts = account_frame(
        [{"account_id": a, "payment_fingerprint": f"pm_{a}"} for a in {r["account_id"] for r in rows}]
    )
    linking = link_accounts(to_event_frame(rows, "full"), accounts)
    labels = linking.clusters["cluster_label"]
    crew = labels[list(CREW)]
    assert crew.nunique() == 1
    assert (labels == crew.iloc[0]).sum() == len(CREW)
    texts = " / ".join(entry["text"] for entry in linking.evidence[crew.iloc[0]])
    assert "request parameters" in texts and "max_tokens=12000" in texts, texts
    row = linking.cluster_features.loc[crew.iloc[0]]
    assert row["members_sharing_request_shape"] == len(CREW) and row["request_shape_request_share"] > 0.9
    assert row["members_sharing_wrapper"] == len(CREW) and "same uncommon fixed words" in texts


def test_a_crew_of_tens_among_thousands_weighs_as_much_as_a_crew_of_four() -> None:
    """Thirty accounts on one rare shape among 3,000 strangers: their surprise given chance, not their rarity among
    accounts (``log(N / 30) / log(N)`` = 0.58), sets the weight, so a bigger crew in a bigger population is not
    weighed down; the strangers' chance meetings stay faint however many of them there are."""
    rng = np.random.default_rng(5)
    crew = [f"crew{i:02d}" for i in range(30)]
    rows = [_request(a, k, "task", max_tokens=12000, temperature=0.75, top_p=0.95, stream=True)
            for a in crew for k in range(6)]  # fmt: skip
    for i in range(3000):
        shape = {"max_tokens": [None, 512, 1024, 2048, 4096, 8192][int(rng.integers(6))],
                 "temperature": [None, 0.0, 0.2, 0.7, 1.0][int(rng.integers(5))],
                 "top_p": [None, None, None, 0.9, 0.95][int(rng.integers(5))],
                 "stream": bool(rng.integers(2))}  # fmt: skip
        rows += [_request(f"user{i:04d}", k, "hello", **shape) for k in range(4)]
    data = _data(rows)
    pairs = request_shape_pairs(data, LinkingConfig())
    crew_codes = data.account_ids.get_indexer(crew)
    inside = pairs["a"].isin(crew_codes) & pairs["b"].isin(crew_codes)
    assert inside.sum() == 30 * 29 // 2 and (pairs.loc[inside, "raw"] >= 0.9).all()
    assert (pairs.loc[~inside, "raw"] < 0.15).all()


def test_surprise_weight_grows_with_a_group_beyond_chance_and_ignores_one_at_chance() -> None:
    users = pd.Series([2, 30, 30, 115, 13, 17])
    expected = pd.Series([0.003, 0.23, 30.0, 270.0, 19.0, 1.2])
    weights = surprise_weight(users, expected, 3000)
    assert weights[0] > 0.9 and weights[1] > 0.95  # two on a one-in-a-million shape, thirty on a one-in-13,000 one
    assert weights[2] == weights[3] == weights[4] == 0.0  # as many users as chance brings, or fewer
    assert 0.8 < weights[5] < 0.9  # of 17 users, about one is a stranger who happens on the crew's setting


def test_a_crew_whose_accounts_also_carry_customers_traffic_keeps_its_harness_evidence() -> None:
    """A reseller's accounts send their customers' requests beside the harvest: here 60% of each crew account's
    requests are customers' chat with their own settings.  The harness is still on 40% of both accounts' traffic,
    a habit: its use counts as 0.4 / ``harness_habit_share`` (0.5) = 0.8 of an unmixed crew's request shape,
    where it counted for the share, 0.4, before the habit rule (the wrapper, on half the harvest, from 0.2 to
    0.4).  A stranger who sent the crew's shape and wrapper on 12% of its requests gets less evidence than the crew
    in proportion."""
    rng = np.random.default_rng(1)
    rows = _population()
    mixed: list[dict[str, Any]] = []
    for row in rows:
        if row["account_id"] in CREW:
            k = int(str(row["request_id"]).rsplit("-", 1)[1])
            for extra in range(3 if k % 2 == 0 else 0):  # 60 customers' requests beside the 40 of the harness
                text = " ".join(rng.choice(WORDS, size=int(rng.integers(6, 14))))
                mixed.append(_request(row["account_id"], 1000 + 3 * k + extra, text,
                                      max_tokens=[None, 1024, 4096][extra], stream=bool(extra % 2)))  # fmt: skip
    for k in range(25):  # 3 of 25 requests through the crew's harness
        text = " ".join(rng.choice(WORDS, size=10))
        harness = {"max_tokens": 12000, "temperature": 0.75, "top_p": 0.95, "stream": False} if k < 3 else {}
        mixed.append(_request("sometimes", k, f"{WRAPPER}\n\n{text}" if k < 3 else text, **harness))
    data = _data(rows + mixed)
    codes = sorted(data.account_ids.get_indexer(list(CREW)))
    crew_pairs = [(int(a), int(b)) for i, a in enumerate(codes) for b in codes[i + 1 :]]
    stranger = data.account_ids.get_loc("sometimes")
    # the stranger's use counts 0.12 / 0.5 = 0.24, against the crew's 0.8 (shape) and 0.4 (wrapper, on half the harvest)
    for kind, stranger_ratio in ((request_shape_pairs, 0.24 / 0.8), (wrapper_pairs, 0.24 / 0.4)):
        pairs = kind(data, LinkingConfig()).set_index(["a", "b"])["raw"]
        diluted = kind(data, LinkingConfig(harness_habit_share=1.0)).set_index(["a", "b"])["raw"]
        assert pairs.reindex(crew_pairs).to_numpy() == pytest.approx(2 * diluted.reindex(crew_pairs).to_numpy())
        with_stranger = [(min(int(c), stranger), max(int(c), stranger)) for c in codes]
        crew_min = pairs.reindex(crew_pairs).min()
        assert pairs.reindex(with_stranger).fillna(0.0).max() <= (stranger_ratio + 0.01) * crew_min
    shape = request_shape_pairs(data, LinkingConfig()).set_index(["a", "b"])["raw"].reindex(crew_pairs)
    unmixed = request_shape_pairs(_data(rows), LinkingConfig()).set_index(["a", "b"])["raw"].reindex(crew_pairs)
    assert shape.to_numpy() == pytest.approx(0.8 * unmixed.to_numpy(), rel=0.05)
