"""Writing a detection's results: scores, account states, clusters with their ids, members and history.

Called inside the run's one final transaction.  Clusters keep their row (status, assignee, history) across runs
through the stable ids of :func:`detectors.linking.match_clusters`; a cluster no current cluster continues is
marked inactive, never deleted, so its reviews and history stay readable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
from sqlalchemy.orm import Session

from app.config import Settings
from app.review.webhooks import notify_cluster_flagged
from app.scoring import repository
from app.scoring.models import Cluster, ModelVersion
from detectors.pipeline import Detection
from detectors.scoring.model import prior_version

INPUT_DIGITS = 5


def _timestamp(value: Any) -> datetime | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        return None
    return (stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)).to_pydatetime()


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def score_rows(
    detection: Detection, *, run_id: str, now: datetime, only: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The score table's row of every scored account (of the accounts ``only`` lists, if given)."""
    accounts = detection.accounts
    if only is not None:
        accounts = accounts[accounts.index.isin(list(only))]
    inputs = detection.inputs.reindex(accounts.index)
    columns = list(inputs.columns)
    matrix = inputs.to_numpy(dtype="float64", na_value=float("nan"))
    # rounded and screened as whole arrays: a Python call per value was most of the write-back's time
    rounded, finite = np.round(matrix, INPUT_DIGITS).tolist(), np.isfinite(matrix).tolist()
    rows = []
    for position, (account_id, risk, flagged, cluster, shadow) in enumerate(_score_values(accounts)):
        values = zip(columns, rounded[position], finite[position], strict=True)
        rows.append({
            "account_id": account_id, "risk_score": risk, "flagged": flagged, "cluster_id": cluster,
            "reasons": detection.reasons.get(account_id, []),
            "features": {name: value for name, value, kept in values if kept},
            "shadow_score": shadow, "scored_at": now, "model_version": detection.model_version, "run_id": run_id,
        })  # fmt: skip
    return rows


def _score_values(accounts: pd.DataFrame) -> list[tuple[str, float, bool, str | None, float | None]]:
    """(account_id, risk_score, flagged, cluster_id, shadow_score) per account, as the score table stores them."""
    risk = accounts["risk_score"].to_numpy(dtype="float64").tolist()
    flagged = accounts["flagged"].to_numpy(dtype=bool).tolist()
    cluster = accounts["cluster_id"].astype("object").where(accounts["cluster_id"].notna(), None).tolist()
    shadow = accounts["shadow_score"].to_numpy(dtype="float64").tolist()
    return [
        (account_id, round(r, 6), f, c, None if math.isnan(s) else round(s, 6))
        for account_id, r, f, c, s in zip(accounts.index.astype(str), risk, flagged, cluster, shadow, strict=True)
    ]


def _row_keys(detection: Detection) -> dict[str, tuple[Any, ...]]:
    """What tells an account's score row changed since the last run, per account: all of it but the features (an
    account's features change only with its events, which rewrite its row anyway) and the times."""
    return {
        account_id: (risk, flagged, cluster, orjson.dumps(detection.reasons.get(account_id, [])), shadow,
                     detection.model_version)
        for account_id, risk, flagged, cluster, shadow in _score_values(detection.accounts)
    }  # fmt: skip


def write_results(
    *,
    session: Session,
    run_id: str,
    detection: Detection,
    now: datetime,
    full: bool,
    changed_accounts: Sequence[str],
    last_event_ids: pd.Series,
    settings: Settings | None = None,
    previous_rows: dict[str, tuple[Any, ...]] | None = None,
) -> dict[str, tuple[Any, ...]]:
    """Write the run's results; what was written per account (pass it back as ``previous_rows`` next run).

    With ``previous_rows`` (what this worker wrote last run, still in the table) only the score rows that
    changed, or whose account had new events, are rewritten: ``scored_at`` is then when a score last changed.
    """
    written = _row_keys(detection)
    if full or previous_rows is None:
        repository.replace_scores(session=session, rows=score_rows(detection, run_id=run_id, now=now))
    else:
        changed = set(changed_accounts)
        dirty = [account_id for account_id, key in written.items()
                 if account_id in changed or previous_rows.get(account_id) != key]  # fmt: skip
        gone = [account_id for account_id in previous_rows if account_id not in written]
        repository.delete_scores(session=session, account_ids=gone)
        rows = score_rows(detection, run_id=run_id, now=now, only=dirty)
        repository.replace_scores(session=session, rows=rows, keep_unlisted=True)
    if full:
        repository.clear_account_states(session=session)
    states = [
        {"account_id": account_id, "last_event_id": int(last_event_ids.get(account_id, 0)),
         "state": orjson.dumps({"run_id": run_id}), "updated_at": now}
        for account_id in changed_accounts
    ]  # fmt: skip
    repository.upsert_account_states(session=session, rows=states)
    newly_flagged = write_clusters(session=session, run_id=run_id, detection=detection, now=now)
    for cluster in newly_flagged:  # the review package's outbox tells enforcement (once per cluster and URL)
        notify_cluster_flagged(session, cluster, settings=settings)
    ensure_prior_version(session=session, now=now)
    return written


def write_clusters(*, session: Session, run_id: str, detection: Detection, now: datetime) -> list[Cluster]:
    """Upsert the run's clusters, retire the ones nobody continues; the clusters that became flagged."""
    # rows as they are now (an analyst may have reviewed one while the run computed)
    known = {cluster.cluster_id: cluster for cluster in repository.all_clusters(session=session)}
    clusters = detection.clusters
    matching = detection.matching
    history: list[dict[str, Any]] = []

    def note(cluster_id: str, kind: str, **detail: Any) -> None:
        history.append({"cluster_id": cluster_id, "run_id": run_id, "kind": kind, "detail": detail, "at": now})

    current_ids = set(clusters.index.astype(str))
    newly_flagged: list[Cluster] = []
    for cluster_id, row in clusters.iterrows():
        cluster_id = str(cluster_id)
        members = detection.members[cluster_id]
        first_seen, last_seen = _timestamp(row["first_seen"]), _timestamp(row["last_seen"])
        values = {
            "score": round(float(row["score"]), 6), "flagged": bool(row["flagged"]), "size": len(members),
            "active": True, "top_reasons": detection.cluster_reasons.get(cluster_id, []),
            "evidence": detection.evidence.get(cluster_id, []),
            "features": detection.cluster_features.get(cluster_id, {}), "model_version": detection.model_version,
            "updated_at": now, "last_seen": last_seen, "last_run_id": run_id,
        }  # fmt: skip
        existing = known.get(cluster_id)
        if existing is None:
            created = Cluster(cluster_id=cluster_id, status="open", first_seen=first_seen, created_at=now, **values)
            repository.add_cluster(session=session, cluster=created)
            note(cluster_id, "created", size=len(members), score=values["score"])
            if created.flagged:
                newly_flagged.append(created)
        else:
            was_active, was_flagged = existing.active, existing.flagged
            if values["flagged"] and not (was_flagged and was_active):
                newly_flagged.append(existing)
            for name, value in values.items():
                setattr(existing, name, value)
            earlier = _as_utc(existing.first_seen)
            existing.first_seen = min(d for d in (earlier, first_seen) if d is not None) if (earlier or first_seen) \
                else None  # fmt: skip
            if bool(row["reopened"]):
                note(cluster_id, "reopened", previous_status=existing.status,
                     size_at_decision=existing.size_at_decision, size=len(members))  # fmt: skip
                existing.status = "open"
                existing.size_at_decision = None
            if not was_active:
                note(cluster_id, "reactivated", size=len(members))
        if cluster_id in matching.merges:
            note(cluster_id, "merged", absorbed=matching.merges[cluster_id])
    inherited_ids = set(matching.inherited.values())
    for previous_id in matching.retired:
        cluster = known.get(previous_id)
        if cluster is None or previous_id in current_ids:
            continue
        cluster.active = False
        cluster.flagged = False
        cluster.updated_at = now
        cluster.last_run_id = run_id
        into = [cid for cid, absorbed in matching.merges.items() if previous_id in absorbed]
        parts = matching.splits.get(previous_id, [])
        if into:
            note(previous_id, "merged_into", into=into)
        elif parts:
            note(previous_id, "split", into=parts)
        else:
            note(previous_id, "dissolved")
    for previous_id, parts in matching.splits.items():
        if previous_id in inherited_ids:
            note(previous_id, "split", into=parts)
    repository.replace_members(session=session, members=detection.members)
    repository.add_history(session=session, rows=history)
    session.flush()
    return newly_flagged


def ensure_prior_version(*, session: Session, now: datetime) -> None:
    """Register the label-free prior's version; it is the active model until a supervised one is promoted."""
    version = prior_version()
    if repository.get_model(session=session, version=version) is not None:
        return
    active = repository.model_with_status(session=session, status="active")
    take_over = active is None or active.kind == "prior"
    if active is not None and take_over:
        repository.set_model_status(session=session, versions=[active.version], status="retired")
    repository.add_model(session=session, model=ModelVersion(
        version=version, kind="prior", status="active" if take_over else "candidate", created_at=now,
        promoted_at=now if take_over else None, n_labels=0, metrics={}, artifact=None,
    ))  # fmt: skip
