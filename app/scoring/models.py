"""Detection runs, their results (account scores, clusters) and the fitted-model registry.

A run writes its results in one transaction at its end, so readers see either the previous
run's results or the new ones, never half of each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONType


class DetectionRun(Base):
    __tablename__ = "detection_runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))  # incremental | full
    status: Mapped[str] = mapped_column(String(16))  # queued | running | done | failed
    requested_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    model_version: Mapped[str | None] = mapped_column(String(64))
    stats: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_detection_runs_status_created_at", "status", "created_at"),)


class AccountScore(Base):
    """The current risk of each scored account (replaced by every run that re-scores it)."""

    __tablename__ = "account_scores"

    account_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    risk_score: Mapped[float] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(Boolean)
    cluster_id: Mapped[str | None] = mapped_column(String(64))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    features: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    shadow_score: Mapped[float | None] = mapped_column(Float)  # score of the candidate model in shadow mode
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    model_version: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_account_scores_risk_score", "risk_score"),
        Index("ix_account_scores_cluster_id", "cluster_id"),
        Index("ix_account_scores_flagged_risk_score", "flagged", "risk_score"),
    )


class AccountState(Base):
    """Per-account mergeable feature state, so incremental runs re-featurise only accounts with new events."""

    __tablename__ = "account_states"

    account_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    last_event_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Cluster(Base):
    __tablename__ = "clusters"

    cluster_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    size: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | confirmed | dismissed | escalated
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # false once merged away or dissolved
    first_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    top_reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    features: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    assignee: Mapped[str | None] = mapped_column(String(200))
    size_at_decision: Mapped[int | None] = mapped_column(Integer)  # a decided cluster returns to the queue if it grows
    model_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_run_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_clusters_flagged_score", "flagged", "score"),
        Index("ix_clusters_status", "status"),
    )


class ClusterMember(Base):
    __tablename__ = "cluster_members"

    cluster_id: Mapped[str] = mapped_column(ForeignKey("clusters.cluster_id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(200), primary_key=True)

    __table_args__ = (Index("ix_cluster_members_account_id", "account_id"),)


class ClusterHistory(Base):
    """What each run did to a cluster: created, updated, merged into / from, split, dissolved."""

    __tablename__ = "cluster_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cluster_id: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_cluster_history_cluster_id_at", "cluster_id", "at"),)


class ModelVersion(Base):
    """A fitted scoring model: the label-free prior, or a supervised model trained from verdicts."""

    __tablename__ = "model_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # prior | supervised
    status: Mapped[str] = mapped_column(String(16))  # candidate | shadow | active | retired
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    n_labels: Mapped[int] = mapped_column(Integer, default=0)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    artifact: Mapped[bytes | None] = mapped_column(LargeBinary)


class DetectionArtifact(Base):
    """Population-level state a run leaves for the next one: the merged feature state and fitted pieces.

    Written in the run's final transaction, so an incremental run always starts from a finished run's state.
    """

    __tablename__ = "detection_artifacts"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
