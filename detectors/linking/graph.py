"""The account graph: every kind of evidence of common control, combined into one weighted edge per pair.

Each kind yields a raw, rarity-weighted score per pair (see the kind's module).  ``1 - exp(-raw)`` turns it into
a strength in [0, 1) with diminishing returns (the tenth shared proxy IP adds less than the first), and the edge
weight is the kind-weighted sum of strengths, so independent kinds add up while one kind saturates.  Edges
lighter than ``min_edge_weight`` are pruned: they are the carrier NAT, the popular template, the coincidence.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors.arrays import sorted_unique, unique_inverse
from detectors.linking.config import EDGE_KINDS, LinkingConfig
from detectors.linking.cores import Cores, task_pool
from detectors.linking.coverage import coverage_pairs
from detectors.linking.infrastructure import client_pairs, ip_pairs, payment_pairs, subnet_pairs
from detectors.linking.inputs import LinkingInput
from detectors.linking.questions import question_pairs
from detectors.linking.request_shape import request_shape_pairs
from detectors.linking.schedule import schedule_pairs
from detectors.linking.signup import signup_pairs
from detectors.linking.synchrony import migration_pairs, sync_pairs
from detectors.linking.templates import TemplateIndex, template_pairs
from detectors.linking.wrappers import wrapper_pairs

PairBuilder = Callable[[LinkingInput, LinkingConfig], pd.DataFrame]


def weight_column(kind: str) -> str:
    return f"{kind}_weight"


def edge_columns() -> list[str]:
    return ["a", "b", "weight", "kinds", *(weight_column(kind) for kind in EDGE_KINDS)]


def _combine(tables: dict[str, pd.DataFrame], n_accounts: int, config: LinkingConfig) -> pd.DataFrame:
    """Per-kind raw pair scores → one row per pair with each kind's weighted strength and the total."""
    present = {kind: table for kind, table in tables.items() if not table.empty}
    columns = [weight_column(kind) for kind in EDGE_KINDS]
    if not present:
        empty = pd.DataFrame({column: pd.Series(dtype="float64") for column in ["weight", *columns]})
        return empty.assign(a=pd.Series(dtype="int64"), b=pd.Series(dtype="int64"))[["a", "b", "weight", *columns]]
    keys = np.concatenate(
        [t["a"].to_numpy(np.int64) * n_accounts + t["b"].to_numpy(np.int64) for t in present.values()]
    )
    unique_keys, inverse = unique_inverse(keys)
    contributions = np.zeros((len(unique_keys), len(EDGE_KINDS)))
    offset = 0
    for kind, table in present.items():
        rows = inverse[offset : offset + len(table)]
        strength = 1.0 - np.exp(-np.clip(table["raw"].to_numpy(np.float64), 0.0, None))
        np.add.at(contributions[:, EDGE_KINDS.index(kind)], rows, config.kind_weight(kind) * strength)
        offset += len(table)
    pairs = pd.DataFrame(
        {"a": unique_keys // n_accounts, "b": unique_keys % n_accounts, "weight": contributions.sum(axis=1)}
    )
    # the kinds' columns as one block (setting them one by one copied each out of the matrix: ~0.15 s)
    return pd.concat([pairs, pd.DataFrame(contributions, columns=columns, copy=False)], axis=1)


def kind_labels(edges: pd.DataFrame, config: LinkingConfig) -> pd.Series:
    """'ip+payment+template': the kinds present on each edge (in :data:`EDGE_KINDS` order)."""
    weights = np.array([max(config.kind_weight(kind), 1e-12) for kind in EDGE_KINDS])
    contributions = edges[[weight_column(kind) for kind in EDGE_KINDS]].to_numpy(np.float64)
    present = contributions / weights >= config.min_kind_strength
    masks = present @ (1 << np.arange(len(EDGE_KINDS)))
    names = {
        int(mask): "+".join(kind for bit, kind in enumerate(EDGE_KINDS) if int(mask) >> bit & 1)
        for mask in np.unique(masks)
    }
    return pd.Series([names[int(mask)] for mask in masks], index=edges.index, dtype="string")


def build_edges(
    data: LinkingInput, config: LinkingConfig, templates: TemplateIndex | None, schedules: pd.DataFrame | None = None,
    *, timings: dict[str, float] | None = None, cores: Cores | None = None,
) -> pd.DataFrame:  # fmt: skip
    """All evidence edges at or above ``min_edge_weight`` (codes in ``a`` < ``b``), sorted by (a, b).

    Identity kinds (what the accounts *are*: card, addresses, client build, prompt templates) propose the
    candidate pairs; behaviour kinds (what they *do*: sign up, tick, pivot, split topics) only add to them.
    Behaviour alone says "a distiller", not "the same distiller": two campaigns that both pivot on release day
    and both tick on a quarter-hour cron are not one actor.  Nor does a shared scheduler clock (``schedule``)
    let ``sync`` in: both are the same observation, time, and strangers' cron jobs at :00 have both.  A clock
    shared by more than ``max_group_size`` accounts is evaluated on its sampled pairs and on every pair that the
    sign-up and migration kinds find, so a big crew's clock and its sign-up bursts meet on the same pairs.

    ``timings``, if given, receives the seconds each kind took (and ``combine``); the kinds run on
    ``config.threads`` threads, as many at once as ``cores`` allows (:mod:`.cores`).
    """
    seconds = timings if timings is not None else {}

    def timed(kind: str, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        tic = time.perf_counter()
        table = build()
        seconds[kind] = seconds.get(kind, 0.0) + time.perf_counter() - tic
        return table

    with task_pool(config.threads, cores, "linking-kind") as submit:

        def start(kind: str, build: Callable[[], pd.DataFrame]) -> Future[pd.DataFrame]:
            return submit(partial(timed, kind, build))

        # the behaviour kinds computed over every pair, not only proposed ones: they nominate the pairs on which a
        # sparsified scheduler group is evaluated in full (see schedule_pairs)
        open_behaviour = {
            kind: start(kind, partial(build, data, config))
            for kind, build in (("signup", signup_pairs), ("migration", migration_pairs))
            if config.kind_weight(kind) > 0
        }  # fmt: skip
        identity: dict[str, PairBuilder] = {
            "ip": ip_pairs,
            "subnet": subnet_pairs,
            "payment": payment_pairs,
            "tls_ua": client_pairs,
            "request_shape": request_shape_pairs,
            "wrapper": wrapper_pairs,
            "question": question_pairs,
        }
        pending = {
            kind: start(kind, partial(build, data, config))
            for kind, build in identity.items() if config.kind_weight(kind) > 0
        }  # fmt: skip
        if templates is not None and config.kind_weight("template") > 0:
            pending["template"] = start("template", lambda: template_pairs(data, templates, config))
        opened = {kind: future.result() for kind, future in open_behaviour.items()}
        nominated = None
        if opened:
            nominated = pd.concat([table[["a", "b"]] for table in opened.values()], ignore_index=True)
            nominated = nominated.drop_duplicates()
        if config.kind_weight("schedule") > 0:
            pending["schedule"] = start("schedule", lambda: schedule_pairs(data, config, schedules, nominated))
        # in the order the kinds were listed before they ran at once (their tables are combined in this order)
        order = [*identity, "schedule", "template"]
        tables = {kind: pending[kind].result() for kind in order if kind in pending}
        combined = timed("combine", lambda: _combine(tables, data.n_accounts, config))
        gate = config.behaviour_needs_identity * config.min_edge_weight
        candidates = combined.loc[combined["weight"] >= gate, ["a", "b"]]
        # a shared scheduler clock and lockstep activity are one observation (time): the clock cannot vouch for sync
        untimed = combined.loc[combined["weight"] - combined[weight_column("schedule")] >= gate, ["a", "b"]]
        behaviour: dict[str, tuple[pd.DataFrame, Callable[[], pd.DataFrame]]] = {
            "signup": (candidates, lambda: opened["signup"]),
            "migration": (candidates, lambda: opened["migration"]),
            "sync": (untimed, lambda: sync_pairs(data, untimed, config)),
            "coverage": (candidates, lambda: coverage_pairs(data, candidates, config)),
        }
        running = {
            kind: (allowed, start(kind, build))
            for kind, (allowed, build) in behaviour.items()
            if config.kind_weight(kind) > 0 and not allowed.empty
        }
        added = {
            kind: _restrict(future.result(), allowed, data.n_accounts) for kind, (allowed, future) in running.items()
        }
    # behaviour only adds to pairs already there: add its strengths in place of combining every table again
    combined = timed("combine", lambda: _add(combined, added, data.n_accounts, config))
    kept = combined[combined["weight"] >= config.min_edge_weight].sort_values(["a", "b"]).reset_index(drop=True)
    kept.insert(3, "kinds", kind_labels(kept, config))
    return kept


def _add(
    combined: pd.DataFrame, tables: dict[str, pd.DataFrame], n_accounts: int, config: LinkingConfig
) -> pd.DataFrame:
    """``combined`` (sorted by pair, from :func:`_combine`) with the strengths of ``tables`` added, each a kind not
    in it yet whose pairs are all pairs of ``combined``."""
    present = {kind: table for kind, table in tables.items() if not table.empty}
    if not present:
        return combined
    keys = combined["a"].to_numpy(np.int64) * n_accounts + combined["b"].to_numpy(np.int64)
    out = combined.copy(deep=False)
    touched: list[npt.NDArray[np.int64]] = []
    for kind, table in present.items():
        wanted = table["a"].to_numpy(np.int64) * n_accounts + table["b"].to_numpy(np.int64)
        rows = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
        if len(keys) == 0 or not np.array_equal(keys[rows], wanted):
            raise ValueError(f"{kind} evidence on a pair that no other kind proposed")
        contribution = np.zeros(len(out))
        strength = 1.0 - np.exp(-np.clip(table["raw"].to_numpy(np.float64), 0.0, None))
        np.add.at(contribution, rows, config.kind_weight(kind) * strength)
        out[weight_column(kind)] = contribution
        touched.append(rows)
    # the rows that gained evidence are summed again, row by row over kinds in one order as _combine does, so that
    # every weight is what combining all tables at once would give, to the last bit
    rows = sorted_unique(np.concatenate(touched))
    columns = [out[weight_column(kind)].to_numpy(np.float64)[rows] for kind in EDGE_KINDS]
    weight = out["weight"].to_numpy(np.float64).copy()
    weight[rows] = np.column_stack(columns).sum(axis=1)
    out["weight"] = weight
    return out


def _restrict(pairs: pd.DataFrame, candidates: pd.DataFrame, n_accounts: int) -> pd.DataFrame:
    """The rows of ``pairs`` that are pairs of ``candidates`` (sorted by pair, as :func:`_combine` leaves them)."""
    keys = pairs["a"].to_numpy(np.int64) * n_accounts + pairs["b"].to_numpy(np.int64)
    allowed = candidates["a"].to_numpy(np.int64) * n_accounts + candidates["b"].to_numpy(np.int64)
    if len(allowed) == 0:
        return pairs.iloc[:0].reset_index(drop=True)
    if not (allowed[1:] > allowed[:-1]).all():
        allowed = sorted_unique(allowed)
    position = np.minimum(np.searchsorted(allowed, keys), len(allowed) - 1)
    kept: pd.DataFrame = pairs[allowed[position] == keys].reset_index(drop=True)
    return kept
