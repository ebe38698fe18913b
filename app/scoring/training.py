"""The feedback loop: verdicts → labels → a candidate supervised model → shadow → promotion by an admin.

Labels: the latest verdict on each cluster labels the accounts it had at that time — confirmed → 1,
dismissed → 0 (escalated is no verdict yet).  A candidate is trained once at least ``min_labels`` labelled accounts
with both classes exist; it is evaluated against the current model on held-back labels (whole clusters are held
back, so no cluster is on both sides), stored with those metrics as the *shadow* model (its score is written next
to the live score on every run), and becomes the live model only when an admin promotes it.
"""

from __future__ import annotations

import pickle
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from app.audit import repository as audit
from app.config import Settings
from app.errors import NotFound, Unprocessable
from app.scoring import repository
from app.scoring.models import ModelVersion
from detectors.scoring.supervised import SupervisedRiskModel, evaluate

DEFAULT_MIN_LABELS = 50
HELD_BACK_SHARE = 0.3
SEED = 7


@dataclass(frozen=True)
class Labels:
    accounts: pd.Series  # account_id → 0/1
    groups: pd.Series  # account_id → cluster id it was labelled through


def labels_from_reviews(*, session: Session) -> Labels:
    latest: dict[str, tuple[str, list[str]]] = {}
    for review in repository.reviews(session=session):
        if review.verdict in ("confirmed", "dismissed"):
            members = [m for m in (review.members or "").splitlines() if m]
            latest[review.cluster_id] = (review.verdict, members)
        elif review.verdict == "escalated":
            latest.pop(review.cluster_id, None)
    label: dict[str, int] = {}
    group: dict[str, str] = {}
    for cluster_id, (verdict, members) in sorted(latest.items()):
        for account_id in members:
            # an account in a confirmed cluster stays positive whatever another cluster's verdict says
            value = 1 if verdict == "confirmed" else 0
            if label.get(account_id, -1) < value:
                label[account_id], group[account_id] = value, cluster_id
    return Labels(pd.Series(label, dtype="int64"), pd.Series(group, dtype="object"))


def _held_back(groups: pd.Series, y: pd.Series) -> pd.Series:
    """A held-back mask that takes whole clusters, ~30% of each class's clusters (at least one when possible)."""
    rng = np.random.default_rng(SEED)
    mask = pd.Series(False, index=y.index)
    for value in (0, 1):
        clusters = sorted(set(groups[y == value]))
        if len(clusters) < 2:
            continue
        take = max(1, round(HELD_BACK_SHARE * len(clusters)))
        chosen = set(rng.choice(clusters, size=take, replace=False).tolist())
        mask |= groups.isin(chosen) & (y == value)
    if mask.sum() == 0 or y[mask].nunique() < 2 or y[~mask].value_counts().min() < 2:
        # too few clusters to hold back whole ones: hold back a stratified share of accounts instead
        mask[:] = False
        for value in (0, 1):
            members = y.index[y == value]
            take = max(1, round(HELD_BACK_SHARE * len(members)))
            mask[rng.choice(members, size=take, replace=False)] = True
    return mask


def train_candidate(
    *, session: Session, settings: Settings, actor: str, min_labels: int | None = None
) -> ModelVersion:
    needed = min_labels if min_labels is not None else DEFAULT_MIN_LABELS
    labels = labels_from_reviews(session=session)
    scored = {row.account_id: row for row in repository.scores_of(session=session,
                                                                  account_ids=list(labels.accounts.index))}  # fmt: skip
    y = labels.accounts[labels.accounts.index.isin(list(scored))]
    counts = y.value_counts().reindex([0, 1], fill_value=0)
    if len(y) < needed or counts.min() < 2:
        raise Unprocessable(
            "not enough labels to train: analysts' verdicts label the members of reviewed clusters",
            {"labelled_accounts": len(y), "positive": int(counts[1]), "negative": int(counts[0]),
             "needed": needed, "each_class_at_least": 2},
        )  # fmt: skip
    X = pd.DataFrame.from_dict({aid: scored[aid].features or {} for aid in y.index}, orient="index").astype("float64")
    current = pd.Series({aid: scored[aid].risk_score for aid in y.index}, dtype="float64")
    current_version = _current_version(session)
    held = _held_back(labels.groups.reindex(y.index), y)
    candidate = SupervisedRiskModel(random_state=SEED).fit(X[~held], y[~held])
    metrics: dict[str, Any] = {
        "held_back": int(held.sum()),
        "trained_on": int((~held).sum()),
        "candidate": evaluate(y[held], candidate.predict_proba(X[held])),
        "current": evaluate(y[held], current[held]),
        "current_version": current_version,
    }
    metrics["improves_average_precision"] = bool(
        metrics["candidate"]["average_precision"] >= metrics["current"]["average_precision"]
    )
    final = SupervisedRiskModel(random_state=SEED).fit(X, y)
    now = datetime.now(UTC)
    version = f"sup-{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    for old in repository.list_models(session=session):
        if old.status == "shadow":
            repository.set_model_status(session=session, versions=[old.version], status="retired")
    model = repository.add_model(session=session, model=ModelVersion(
        version=version, kind="supervised", status="shadow", created_at=now, promoted_at=None, n_labels=len(y),
        metrics=_json_safe(metrics), artifact=pickle.dumps(final, protocol=pickle.HIGHEST_PROTOCOL),
    ))  # fmt: skip
    audit.append(session=session, actor=actor, action="model.train", target_type="model", target_id=version,
                 detail={"n_labels": len(y), "metrics": _json_safe(metrics)})  # fmt: skip
    return model


def _current_version(session: Session) -> str | None:
    active = repository.model_with_status(session=session, status="active")
    return active.version if active is not None else None


def promote(*, session: Session, version: str, actor: str) -> ModelVersion:
    model = repository.get_model(session=session, version=version)
    if model is None:
        raise NotFound(f"no model version {version!r}")
    if model.kind == "supervised" and model.artifact is None:
        raise Unprocessable(f"model {version} has no stored artifact")
    previous = _current_version(session)
    if previous is not None and previous != version:
        repository.set_model_status(session=session, versions=[previous], status="retired")
    model.status = "active"
    model.promoted_at = datetime.now(UTC)
    audit.append(session=session, actor=actor, action="model.promote", target_type="model", target_id=version,
                 detail={"previous": previous})  # fmt: skip
    return model


def list_models(*, session: Session) -> list[ModelVersion]:
    return repository.list_models(session=session)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, float) and (np.isnan(value) or np.isinf(value)):
        return None
    return value
