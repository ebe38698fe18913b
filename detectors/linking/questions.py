"""Shared question pool: the same exact question (normalised prompt) sent by a few accounts, beyond chance.

An operation that splits one private question set between its accounts leaves each question on one to a few of
them, and nobody else sends it; strangers meet on the same exact question too (short greetings, textbook
exercises, an app's canned prompts), the more often the more questions each sends.  Works from ``text_hash`` (the
hash of the normalised last user turn, stored in ``full`` and ``hashed`` retention), never from the text.

* Rarity.  A question sent by ``n`` accounts hands one unit of evidence to the ``n(n-1)/2`` pairs of its users,
  split evenly: a question two accounts send and nobody else is a full unit for that pair, one of six users a
  fifteenth, and a question sent by more than ``max_question_users`` accounts ("hi", "what is the capital of
  France", a popular benchmark) nothing.
* Chance, given each account's volume.  If each account's distinct questions were drawn at random from the
  population's, with the observed counts of users per question, a pair would collect ``d_a * d_b * 2T / (D^2 -
  sum d^2)`` units on average (``d``: distinct questions of an account, ``D`` their sum, ``T`` the questions that
  count).  A pair's evidence is the Poisson surprise of its units given that mean, in decades: nothing until
  chance would give as much to ``sqrt(pairs)`` pairs, full credit once it would give it to fewer than one pair of
  the population (a Bonferroni bound over all pairs).  So two accounts of ten thousand questions each sharing a
  handful is chance, two of three hundred sharing seven is not.
* Public suites.  Eval runners replaying one public benchmark, app backends relaying their users' canned prompts,
  batch jobs on one prompt list: unrelated accounts that share a fixed question set far beyond chance, which the
  questions alone cannot tell from a crew sharing a private pool.  The kind's weight therefore keeps it short of
  linking a pair alone, and short of making a pair a candidate for behaviour evidence (``behaviour_needs_identity``):
  it completes identity evidence (a shared client build, a wrapper), it does not replace it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import gammainc

from detectors.arrays import sorted_unique
from detectors.linking.config import LinkingConfig
from detectors.linking.inputs import LinkingInput
from detectors.linking.pairs import empty_pairs, group_pairs, sum_pairs


def account_questions(data: LinkingInput) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (account, question) uses: (account codes, question codes), questions numbered from 0."""
    return data.shared("account_questions", lambda: _account_questions(data))


def _account_questions(data: LinkingInput) -> tuple[np.ndarray, np.ndarray]:
    if "text_hash" not in data.events.columns:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    question = pd.factorize(data.events["text_hash"], use_na_sentinel=True)[0].astype(np.int64)
    has = question >= 0
    n = np.int64(max(data.n_accounts, 1))
    keys = sorted_unique(question[has] * n + data.events["account"].to_numpy(np.int64)[has])
    return keys % n, keys // n


def pair_surprise(units: np.ndarray, expected: np.ndarray, n_population: int) -> np.ndarray:
    """Credit in [0, 1] for pairs holding ``units`` where chance gives ``expected``: the decades of the Poisson
    tail ``P(X >= units)`` (continuous in ``units``), none up to half the Bonferroni decades over all pairs of
    ``n_population`` accounts, full from all of them on."""
    tail = gammainc(np.clip(units, 1e-12, None), np.clip(expected, 1e-300, None))
    decades = -np.log10(np.clip(tail, 1e-300, 1.0))
    bound = np.log10(max(n_population * (n_population - 1) / 2.0, 10.0))
    credit: np.ndarray = np.clip((decades - bound / 2.0) / (bound / 2.0), 0.0, 1.0)
    return credit


def question_pairs(data: LinkingInput, config: LinkingConfig) -> pd.DataFrame:
    accounts, questions = account_questions(data)
    if len(accounts) == 0:
        return empty_pairs()
    users = np.bincount(questions)
    distinct = np.bincount(accounts, minlength=data.n_accounts).astype(np.float64)
    counted = (users >= 2) & (users <= config.max_question_users)
    kept = counted[questions]
    if not kept.any():
        return empty_pairs()
    i, j = group_pairs(
        questions[kept], accounts[kept], max_group_size=config.max_question_users, degree=config.sparse_degree,
        seed=config.seed,
    )  # fmt: skip
    if len(i) == 0:
        return empty_pairs()
    a, b = accounts[kept][i], accounts[kept][j]
    n = users[questions[kept][i]].astype(np.float64)
    pairs = sum_pairs(a, b, 2.0 / (n * (n - 1.0)), data.n_accounts)
    ordered_pairs = distinct.sum() ** 2 - float(np.square(distinct).sum())
    rate = 2.0 * float(counted.sum()) / max(ordered_pairs, 1.0)
    expected = distinct[pairs["a"].to_numpy()] * distinct[pairs["b"].to_numpy()] * rate
    population = int((distinct > 0).sum())
    pairs["raw"] = pair_surprise(pairs["raw"].to_numpy(np.float64), expected, population)
    return pairs[pairs["raw"] > 0].reset_index(drop=True)
