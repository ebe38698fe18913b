"""Clusters across runs: stable ids, review status kept, dismissed exempt, confirmed flagged, growth reopens."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.scoring.models import AccountScore, Cluster, ClusterHistory, ClusterMember
from tests.scoring.conftest import events_sorted, ingest, population, run_detection


@pytest.fixture
def detected(sessions: sessionmaker[Session], settings: Settings) -> None:
    pop = population()
    ingest(sessions, events_sorted(pop), pop.accounts)
    assert run_detection(sessions, settings, "full").status == "done"


def _clusters(sessions: sessionmaker[Session]) -> dict[str, Cluster]:
    with sessions() as session:
        return {c.cluster_id: c for c in session.scalars(select(Cluster))}


def _members(sessions: sessionmaker[Session], cluster_id: str) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(ClusterMember.account_id).where(ClusterMember.cluster_id == cluster_id)))


def _scores(sessions: sessionmaker[Session], accounts: list[str]) -> dict[str, AccountScore]:
    with sessions() as session:
        query = select(AccountScore).where(AccountScore.account_id.in_(accounts))
        return {score.account_id: score for score in session.scalars(query)}


def _decide(sessions: sessionmaker[Session], cluster_id: str, status: str, size_at_decision: int | None = None) -> None:
    """What the review console does when an analyst records a verdict."""
    with sessions.begin() as session:
        cluster = session.get(Cluster, cluster_id)
        assert cluster is not None
        cluster.status = status
        cluster.size_at_decision = cluster.size if size_at_decision is None else size_at_decision
        cluster.assignee = "alice"


def _history(sessions: sessionmaker[Session], cluster_id: str) -> list[str]:
    with sessions() as session:
        query = select(ClusterHistory.kind).where(ClusterHistory.cluster_id == cluster_id).order_by(ClusterHistory.id)
        return list(session.scalars(query))


def test_ids_status_and_assignee_survive_a_rerun(detected: None, sessions: sessionmaker[Session],
                                                 settings: Settings) -> None:  # fmt: skip
    before = _clusters(sessions)
    assert before and all(c.active and c.status == "open" for c in before.values())
    assert all(_history(sessions, cid)[:1] == ["created"] for cid in before)
    flagged = next(c for c in before.values() if c.flagged)
    _decide(sessions, flagged.cluster_id, "escalated")
    run_detection(sessions, settings, "full")
    after = _clusters(sessions)
    assert set(after) == set(before)
    kept = after[flagged.cluster_id]
    assert kept.status == "escalated" and kept.assignee == "alice" and kept.flagged
    assert sorted(_members(sessions, flagged.cluster_id)) == sorted(_members(sessions, flagged.cluster_id))
    assert kept.first_seen is not None and kept.last_seen is not None


def test_dismissed_members_are_exempt_from_cluster_flagging(detected: None, sessions: sessionmaker[Session],
                                                            settings: Settings) -> None:  # fmt: skip
    flagged = next(c for c in _clusters(sessions).values() if c.flagged)
    members = _members(sessions, flagged.cluster_id)
    _decide(sessions, flagged.cluster_id, "dismissed")
    run_detection(sessions, settings, "full")
    cluster = _clusters(sessions)[flagged.cluster_id]
    assert cluster.status == "dismissed" and not cluster.flagged
    for account_id, score in _scores(sessions, members).items():
        own_flag = any(r["feature"] != "cluster_score" for r in score.reasons) and score.risk_score >= 0.8
        assert score.flagged == own_flag, account_id
        assert all(r["feature"] != "cluster_score" for r in score.reasons), "no risk inherited from a dismissed cluster"


def test_confirmed_members_stay_flagged(detected: None, sessions: sessionmaker[Session], settings: Settings) -> None:
    quiet = next(c for c in _clusters(sessions).values() if not c.flagged)
    members = _members(sessions, quiet.cluster_id)
    _decide(sessions, quiet.cluster_id, "confirmed")
    run_detection(sessions, settings, "full")
    cluster = _clusters(sessions)[quiet.cluster_id]
    assert cluster.status == "confirmed" and cluster.flagged
    assert all(score.flagged for score in _scores(sessions, members).values())


def test_a_decided_cluster_that_grew_goes_back_to_review(detected: None, sessions: sessionmaker[Session],
                                                         settings: Settings) -> None:  # fmt: skip
    grown = max(_clusters(sessions).values(), key=lambda c: c.size)
    assert grown.size >= 4
    decided = min(grown.size - 2, int(grown.size / 1.25))  # it grew by >= 2 members and >= 25% since
    _decide(sessions, grown.cluster_id, "confirmed", size_at_decision=decided)
    stable = next(c for c in _clusters(sessions).values() if c.cluster_id != grown.cluster_id)
    _decide(sessions, stable.cluster_id, "dismissed")
    run_detection(sessions, settings, "full")
    after = _clusters(sessions)
    assert after[grown.cluster_id].status == "open" and after[grown.cluster_id].size_at_decision is None
    assert _history(sessions, grown.cluster_id)[-1] == "reopened"
    assert after[stable.cluster_id].status == "dismissed"
    assert "reopened" not in _history(sessions, stable.cluster_id)


def test_clusters_nobody_continues_are_retired_not_deleted(detected: None, sessions: sessionmaker[Session],
                                                           settings: Settings) -> None:  # fmt: skip
    before = _clusters(sessions)
    ghost = Cluster(cluster_id="c_ghost", score=0.9, flagged=True, size=2, status="confirmed", active=True,
                    top_reasons=[], evidence=[], features={}, created_at=datetime.now(UTC),
                    updated_at=datetime.now(UTC))  # fmt: skip
    with sessions.begin() as session:
        session.add(ghost)
        session.flush()
        session.add_all([ClusterMember(cluster_id="c_ghost", account_id=f"nobody-{i}") for i in range(2)])
    run_detection(sessions, settings, "full")
    after = _clusters(sessions)
    assert not after["c_ghost"].active and not after["c_ghost"].flagged and after["c_ghost"].status == "confirmed"
    assert _history(sessions, "c_ghost")[-1] == "dissolved"
    assert _members(sessions, "c_ghost") == []
    assert {cid for cid, c in after.items() if c.active} == set(before)


def test_replace_members_leaves_exactly_the_given_members(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Only the clusters whose members changed are rewritten; the table ends the same as rewriting it all."""
    from app.scoring import repository

    now = datetime.now(UTC)
    with sessions.begin() as session:
        for cid in ("c_kept", "c_grown", "c_gone", "c_new"):
            session.add(Cluster(cluster_id=cid, status="open", score=0.0, flagged=False, size=0, active=True,
                                created_at=now, updated_at=now))  # fmt: skip
        repository.replace_members(session=session, members={"c_kept": ["a", "b"], "c_grown": ["c"],
                                                             "c_gone": ["d", "e"]})  # fmt: skip
    with sessions.begin() as session:
        repository.replace_members(session=session, members={"c_kept": {"b", "a"}, "c_grown": ["c", "f"],
                                                             "c_new": ["g"]})  # fmt: skip
    with sessions() as session:
        rows = sorted(tuple(row) for row in session.execute(select(ClusterMember.cluster_id, ClusterMember.account_id)))
    assert rows == [("c_grown", "c"), ("c_grown", "f"), ("c_kept", "a"), ("c_kept", "b"), ("c_new", "g")]
