from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class Review(Base):
    """An analyst's verdict on a cluster; verdicts become labels for the supervised model."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cluster_id: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))  # confirmed | dismissed | escalated
    note: Mapped[str | None] = mapped_column(Text)
    reviewer: Mapped[str] = mapped_column(String(200))
    cluster_size: Mapped[int] = mapped_column(Integer)
    members: Mapped[str] = mapped_column(Text)  # account ids at the time of the verdict, newline-separated
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_reviews_cluster_id_created_at", "cluster_id", "created_at"),)
