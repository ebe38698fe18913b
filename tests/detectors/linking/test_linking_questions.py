"""Shared question pool: the same exact questions, rare in the population and shared beyond chance.

A crew that splits one private question set between its accounts links (with the client build it also shares);
eval runners replaying one public benchmark do not, however completely they overlap; popular questions and the
chance meetings of heavy users on a common pool give nothing.  All in ``hashed`` retention: hashes, no text.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from detectors.events import account_frame, to_event_frame
from detectors.linking import Linking, LinkingConfig, link_accounts
from detectors.linking.inputs import LinkingInput, prepare
from detectors.linking.questions import pair_surprise, question_pairs

BASE_TS = 1_790_000_000.0
CREW = tuple(f"crew{k}" for k in range(5))
RUNNERS = tuple(f"eval{k}" for k in range(5))
HEAVY = ("heavy0", "heavy1")
POPULAR = ("hi", "what is the capital of France?", "tell me a joke", "hello, how are you?", "thanks!")
WORDS = ("cat", "dog", "why", "how", "sky", "blue", "code", "rust", "poem", "love", "war", "tax", "tree", "milk",
         "sun", "moon", "car", "bus", "rain", "song", "bread", "city", "lake", "road", "wine", "gold")  # fmt: skip
WRAPPER = "Think it through, then give the final answer on its own line."
CREW_CLIENT = {"user_agent": "AsyncOpenAI/Python 1.59.0", "tls_fingerprint": "t13d_async"}


def _words(rng: np.random.Generator, n: int) -> str:
    return " ".join(rng.choice(WORDS, size=n))


def _population(seed: int = 0) -> list[dict[str, Any]]:
    """A crew of five drawing 120 questions each from a private pool of 600 (about 24 in common per pair), on a
    client build that 25 strangers use too, wrapping a third of its requests in one instruction; five eval runners
    each sending the same public benchmark of 150 questions; two heavy users drawing 1,500 questions each from a
    public pool of 100,000; 200 strangers who send popular questions and their own chat."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []

    def emit(account: str, text: str, **fields: Any) -> None:
        rows.append({"request_id": f"{account}-{len(rows)}", "account_id": account, "ts": BASE_TS + 30.0 * len(rows),
                     "messages": [{"role": "user", "content": text}], "model": "m-1", **fields})  # fmt: skip

    private = [f"Prove that every {_words(rng, 3)} has a {_words(rng, 3)} (case {k})" for k in range(600)]
    for account in CREW:
        for index in rng.choice(len(private), size=120, replace=False):
            for sample in range(3):  # each question sampled again and again, half of the time in the crew's wrapper
                text = f"{private[index]}\n\n{WRAPPER}" if sample % 2 else private[index]
                emit(account, text, temperature=1.0, **CREW_CLIENT)
    benchmark = [f"Question {k}: which of the following is a {_words(rng, 4)}?" for k in range(150)]
    for account in RUNNERS:
        for question in benchmark:
            emit(account, question, temperature=0.0, user_agent="python-requests/2.31.0", tls_fingerprint="t13d_py")
    public = 100_000
    for account in HEAVY:
        for k in rng.choice(public, size=1500, replace=False):
            emit(account, f"Exercise {k} from the public workbook", user_agent="Mozilla/5.0", tls_fingerprint="t13d_ff")
    for i in range(200):
        account = f"user{i:03d}"
        client = CREW_CLIENT if i < 25 else {"user_agent": "Mozilla/5.0 Chrome/130", "tls_fingerprint": "t13d_chrome"}
        for k in range(int(rng.integers(5, 15))):
            emit(account, str(rng.choice(POPULAR)) if k % 2 else _words(rng, 10), **client)
    return rows


@pytest.fixture(scope="module")
def data() -> LinkingInput:
    frame = to_event_frame(_population(), "hashed")
    assert frame["prompt_text"].isna().all() and frame["text_hash"].notna().all()
    return prepare(frame, None, None)


def _pairs(data: LinkingInput) -> pd.DataFrame:
    pairs = question_pairs(data, LinkingConfig())
    names = np.asarray(data.account_ids.astype(str))
    return pairs.assign(a=names[pairs["a"].to_numpy()], b=names[pairs["b"].to_numpy()])


def _link(config: LinkingConfig | None = None) -> Linking:
    events = to_event_frame(_population(), "hashed")
    accounts = account_frame([{"account_id": a} for a in sorted(set(events["account_id"]))])
    return link_accounts(events, accounts, config=config)


def _linking(config: LinkingConfig | None = None) -> pd.Series:
    return _link(config).clusters["cluster_label"]


def test_a_crew_sharing_a_private_pool_gets_full_credit(data: LinkingInput) -> None:
    pairs = _pairs(data)
    crew = pairs[pairs["a"].isin(CREW) & pairs["b"].isin(CREW)]
    assert len(crew) == len(CREW) * (len(CREW) - 1) // 2
    assert (crew["raw"] > 0.99).all()


def test_popular_questions_and_chance_meetings_give_nothing(data: LinkingInput) -> None:
    pairs = _pairs(data)
    involved = set(pairs["a"]) | set(pairs["b"])
    # strangers meet on "hi" and the capital of France by the hundred; the heavy users on some of 100,000
    # public exercises (about 22 in common, as chance predicts for 1,500 draws each); a crew member meets a
    # stranger on the client build only
    assert involved <= set(CREW) | set(RUNNERS)


def test_eval_runners_sharing_a_public_benchmark_are_not_linked_by_it(data: LinkingInput) -> None:
    config = LinkingConfig()
    pairs = _pairs(data)
    runners = pairs[pairs["a"].isin(RUNNERS) & pairs["b"].isin(RUNNERS)]
    # their overlap is total and far beyond chance: the questions cannot tell a public suite from a private pool
    assert len(runners) == len(RUNNERS) * (len(RUNNERS) - 1) // 2
    # so the kind alone can neither link a pair nor make it a candidate for behaviour evidence
    most = config.kind_weight("question") * (1.0 - math.exp(-1.0))
    assert most < config.behaviour_needs_identity * config.min_edge_weight < config.min_edge_weight
    labels = _linking(config)
    assert labels[list(RUNNERS)].nunique() == len(RUNNERS)


def test_the_question_pool_is_what_links_the_crew() -> None:
    linking = _link()
    labels = linking.clusters["cluster_label"]
    assert labels[list(CREW)].nunique() == 1
    assert (labels == labels["crew0"]).sum() == len(CREW)  # none of the 25 strangers on the crew's client
    without = _linking(LinkingConfig(kind_weights={**LinkingConfig().kind_weights, "question": 0.0}))
    assert without[list(CREW)].nunique() == len(CREW)
    texts = [entry["text"] for entry in linking.evidence[str(labels["crew0"])] if entry["kind"] == "question"]
    assert texts and texts[0].startswith("5 accounts send the same") and "no account outside" in texts[0], texts


def test_surprise_needs_far_more_than_chance() -> None:
    # 2,000 accounts: ~2e6 pairs, 6.3 decades for full credit, none below 3.15
    expected = np.array([1.0, 1.0, 1.0, 0.01, 0.01])
    units = np.array([1.0, 4.0, 12.0, 1.0, 3.0])
    credit = pair_surprise(units, expected, 2000)
    assert credit[0] == 0.0 and credit[1] == 0.0  # as many as chance gives, or a little more
    assert credit[2] > 0.5  # 12 where chance gives 1: ~9 decades
    assert credit[3] == 0.0  # one question in common where chance gives 1% of one: 2 decades
    assert credit[4] > 0.3  # three of them: ~6 decades
    assert np.all(np.diff(pair_surprise(np.array([1.0, 2.0, 3.0, 5.0, 8.0]), np.full(5, 0.01), 2000)) >= 0)
