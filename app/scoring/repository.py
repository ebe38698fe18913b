"""Every query of the scoring domain: reads for the API, the run queue, and a run's one-transaction write-back."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Select, and_, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.orm import Session, defer

from app.db import json_serializer
from app.ingest.models import Account, Event
from app.review.models import Review
from app.scoring.models import (
    AccountScore,
    AccountState,
    Cluster,
    ClusterHistory,
    ClusterMember,
    DetectionArtifact,
    DetectionRun,
    ModelVersion,
)

# PostgreSQL advisory-lock key that serialises run claims across worker processes ("dgrun" in ASCII)
_CLAIM_LOCK_KEY = 0x6467_7275_6E
_WRITE_CHUNK = 2000


# ---- accounts ------------------------------------------------------------------------------------------------
def list_accounts(
    *,
    session: Session,
    flagged: bool | None,
    min_score: float | None,
    after: tuple[float | None, str] | None,
    limit: int,
) -> list[Any]:
    """Accounts (every one seen) with their score, by risk_score desc (unscored last), then account_id."""
    score = AccountScore.risk_score
    query = (
        select(Account.account_id, AccountScore)
        .options(defer(AccountScore.features))
        .outerjoin(AccountScore, AccountScore.account_id == Account.account_id)
    )
    if flagged is True:
        query = query.where(AccountScore.flagged.is_(True))
    elif flagged is False:
        query = query.where(or_(AccountScore.flagged.is_(False), AccountScore.account_id.is_(None)))
    if min_score is not None:
        query = query.where(score >= min_score)
    if after is not None:
        after_score, after_id = after
        if after_score is None:
            query = query.where(score.is_(None), Account.account_id > after_id)
        else:
            query = query.where(
                or_(
                    score < after_score,
                    and_(score == after_score, Account.account_id > after_id),
                    score.is_(None),
                )
            )
    query = query.order_by(score.desc().nulls_last(), Account.account_id).limit(limit)
    return list(session.execute(query).all())


def account_known(*, session: Session, account_id: str) -> bool:
    return session.get(Account, account_id) is not None


def account_score(*, session: Session, account_id: str) -> AccountScore | None:
    # the stored model inputs (large JSON, TOASTed on PostgreSQL) are never shown by the risk endpoint
    query = select(AccountScore).options(defer(AccountScore.features)).where(AccountScore.account_id == account_id)
    return session.scalars(query).first()


def scores_of(*, session: Session, account_ids: Sequence[str] | None = None) -> list[AccountScore]:
    query = select(AccountScore)
    if account_ids is not None:
        query = query.where(AccountScore.account_id.in_(list(account_ids)))
    return list(session.scalars(query))


# ---- clusters ------------------------------------------------------------------------------------------------
def list_clusters(
    *,
    session: Session,
    flagged: bool | None,
    status: str | None,
    after: tuple[float, str] | None,
    limit: int,
) -> list[Cluster]:
    query = select(Cluster).where(Cluster.active.is_(True))
    if flagged is not None:
        query = query.where(Cluster.flagged.is_(flagged))
    if status is not None:
        query = query.where(Cluster.status == status)
    if after is not None:
        after_score, after_id = after
        query = query.where(
            or_(Cluster.score < after_score, and_(Cluster.score == after_score, Cluster.cluster_id > after_id))
        )
    query = query.order_by(Cluster.score.desc(), Cluster.cluster_id).limit(limit)
    return list(session.scalars(query))


def get_cluster(*, session: Session, cluster_id: str) -> Cluster | None:
    return session.get(Cluster, cluster_id)


def cluster_members(*, session: Session, cluster_id: str) -> list[str]:
    query = select(ClusterMember.account_id).where(ClusterMember.cluster_id == cluster_id)
    return list(session.scalars(query.order_by(ClusterMember.account_id)))


def cluster_history(*, session: Session, cluster_id: str, limit: int = 200) -> list[ClusterHistory]:
    query = select(ClusterHistory).where(ClusterHistory.cluster_id == cluster_id)
    return list(session.scalars(query.order_by(ClusterHistory.at.desc(), ClusterHistory.id.desc()).limit(limit)))


def all_clusters(*, session: Session) -> list[Cluster]:
    return list(session.scalars(select(Cluster)))


def active_memberships(*, session: Session) -> dict[str, set[str]]:
    """cluster_id → member account ids, for the clusters the previous run left active."""
    query = select(ClusterMember.cluster_id, ClusterMember.account_id).join(
        Cluster, Cluster.cluster_id == ClusterMember.cluster_id
    )
    members: dict[str, set[str]] = {}
    for cluster_id, account_id in session.execute(query.where(Cluster.active.is_(True))):
        members.setdefault(cluster_id, set()).add(account_id)
    return members


# ---- detection runs ------------------------------------------------------------------------------------------
def add_run(*, session: Session, run: DetectionRun) -> DetectionRun:
    session.add(run)
    session.flush()
    return run


def get_run(*, session: Session, run_id: str) -> DetectionRun | None:
    return session.get(DetectionRun, run_id)


def list_runs(*, session: Session, limit: int) -> list[DetectionRun]:
    return list(session.scalars(select(DetectionRun).order_by(DetectionRun.created_at.desc()).limit(limit)))


def pending_run(*, session: Session) -> DetectionRun | None:
    """The oldest queued run, if any (new requests coalesce into it)."""
    query = select(DetectionRun).where(DetectionRun.status == "queued").order_by(DetectionRun.created_at)
    return session.scalars(query.limit(1)).first()


def has_unfinished_run(*, session: Session) -> bool:
    return bool(session.scalar(select(exists().where(DetectionRun.status.in_(("queued", "running"))))))


def last_finished_run(*, session: Session, mode: str | None = None) -> DetectionRun | None:
    """The run that finished last (of the given requested ``mode``, when one is given)."""
    query = select(DetectionRun).where(DetectionRun.status == "done")
    if mode is not None:
        query = query.where(DetectionRun.mode == mode)
    return session.scalars(query.order_by(DetectionRun.finished_at.desc()).limit(1)).first()


def claim_next_run(*, session: Session, now: datetime) -> str | None:
    """Atomically move the oldest queued run to running, unless a run is already running; its id or None.

    The conditional UPDATE is the claim: of two workers racing for one run only one sees a row updated.
    PostgreSQL also takes a transaction-level advisory lock so that two workers cannot claim two different
    runs at once (runs must not overlap: each writes the whole result set).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK_KEY})
    running = select(DetectionRun.id).where(DetectionRun.status == "running")
    if session.execute(running.limit(1)).first() is not None:
        return None
    candidate = pending_run(session=session)
    if candidate is None:
        return None
    result = session.execute(
        update(DetectionRun)
        .where(DetectionRun.id == candidate.id, DetectionRun.status == "queued")
        .values(status="running", started_at=now, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    return candidate.id if bool(result.rowcount == 1) else None  # type: ignore[attr-defined]


def heartbeat(*, session: Session, run_id: str, now: datetime, stats: dict[str, Any] | None = None) -> bool:
    """Refresh a running run's heartbeat; False if the run is no longer running (e.g. marked failed)."""
    values: dict[str, Any] = {"heartbeat_at": now}
    if stats is not None:
        values["stats"] = stats
    result = session.execute(
        update(DetectionRun)
        .where(DetectionRun.id == run_id, DetectionRun.status == "running")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def fail_stale_runs(*, session: Session, now: datetime, timeout: timedelta) -> list[str]:
    """Mark runs left running by a dead worker (no heartbeat within ``timeout``) as failed."""
    cutoff = now - timeout
    stale = list(
        session.scalars(
            select(DetectionRun.id).where(
                DetectionRun.status == "running",
                or_(DetectionRun.heartbeat_at.is_(None), DetectionRun.heartbeat_at < cutoff),
            )
        )
    )
    if stale:
        session.execute(
            update(DetectionRun)
            .where(DetectionRun.id.in_(stale), DetectionRun.status == "running")
            .values(status="failed", finished_at=now, error="the worker stopped sending heartbeats (crashed or killed)")
            .execution_options(synchronize_session=False)
        )
    return stale


def finish_run(
    *, session: Session, run_id: str, status: str, now: datetime, stats: dict[str, Any], error: str | None = None,
    model_version: str | None = None,
) -> bool:  # fmt: skip
    """Close a running run; False if it was not running any more (its results must then not be kept)."""
    result = session.execute(
        update(DetectionRun)
        .where(DetectionRun.id == run_id, DetectionRun.status == "running")
        .values(status=status, finished_at=now, heartbeat_at=now, stats=stats, error=error, model_version=model_version)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


# ---- inputs of a run -----------------------------------------------------------------------------------------
def max_event_id(*, session: Session) -> int:
    return int(session.scalar(select(func.max(Event.id))) or 0)


def newest_event_ts(*, session: Session) -> float | None:
    value = session.scalar(select(func.max(Event.ts)))
    return float(value) if value is not None else None


def _event_query(columns: Sequence[str], after_id: int, up_to_id: int | None, min_ts: float | None) -> Select[Any]:
    """Event rows (id first, then ``columns``) with ``after_id < id <= up_to_id`` and ``ts >= min_ts``, by id."""
    query = select(Event.id, *(getattr(Event, name) for name in columns)).where(Event.id > after_id)
    if up_to_id is not None:
        query = query.where(Event.id <= up_to_id)
    if min_ts is not None:
        query = query.where(Event.ts >= min_ts)
    return query.order_by(Event.id)


def event_cursor(
    *, session: Session, columns: Sequence[str], after_id: int = 0, up_to_id: int | None = None,
    min_ts: float | None = None,
) -> Any:  # fmt: skip
    """A raw DB-API cursor over event rows (id first, then ``columns``) ordered by id; the caller closes it.

    Raw, because SQLAlchemy's per-value result processing costs more than the query on a million rows; the
    values are converted column-wise by the caller.  PostgreSQL streams through a named (server-side) cursor.
    """
    connection = session.connection()
    compiled = _event_query(columns, after_id, up_to_id, min_ts).compile(dialect=connection.dialect)
    driver = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        cursor = driver.cursor(name="distillguard_events")  # type: ignore[union-attr]
        cursor.execute(str(compiled), compiled.params)
    else:
        cursor = driver.cursor()  # type: ignore[union-attr]
        positional = compiled.positiontup or []
        cursor.execute(str(compiled), [compiled.params[name] for name in positional])
    return cursor


def event_csv(
    *, session: Session, columns: Sequence[str], after_id: int = 0, up_to_id: int | None = None,
    min_ts: float | None = None,
) -> Generator[bytes, None, None]:  # fmt: skip
    """PostgreSQL only: the rows :func:`event_cursor` would give, as CSV blocks from ``COPY (SELECT …) TO STDOUT``
    in the session's transaction (so it sees the same snapshot as the run's other reads).

    ``COPY`` hands over text that Arrow's C++ CSV reader parses column-wise: about a third of the client CPU of
    fetching Python tuples through a server-side cursor (no Python object per value)."""
    connection = session.connection()
    compiled = _event_query(columns, after_id, up_to_id, min_ts).compile(dialect=connection.dialect)
    statement = f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)"
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement, compiled.params) as copy:  # type: ignore[union-attr]
        for block in copy:
            yield bytes(block)


def account_rows(*, session: Session, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    query = select(*(getattr(Account, name) for name in columns)).where(Account.has_metadata.is_(True))
    return [tuple(row) for row in session.connection().execute(query)]


def all_account_ids(*, session: Session) -> list[str]:
    return list(session.scalars(select(Account.account_id)))


def account_activity(*, session: Session) -> dict[str, tuple[float | None, float | None]]:
    query = select(Account.account_id, Account.first_seen, Account.last_seen)
    return {aid: (first, last) for aid, first, last in session.execute(query)}


def account_last_event_ids(*, session: Session) -> dict[str, int]:
    return dict(session.execute(select(AccountState.account_id, AccountState.last_event_id)).all())


def get_artifact(*, session: Session, name: str) -> DetectionArtifact | None:
    return session.get(DetectionArtifact, name)


# ---- a run's results (called inside the run's one final transaction) ---------------------------------------
def insert_rows(*, session: Session, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts of column values, all with the same keys) into ``model``'s table.

    PostgreSQL gets one ``COPY … FROM STDIN``: a full run writes ~25,000 score rows with ~2 KB of JSON each, which
    multi-row ``INSERT`` statements took ~12 s to write (2.7 s of it client CPU) and ``COPY`` writes in ~2 s
    (0.2 s).  Other databases get a Core ``executemany`` in chunks: an ORM bulk insert leaves out each row's None
    values, so rows with a null in other columns than their neighbours' went in as one statement each (an
    incremental run's 4,000 score rows took 2,000 statements).  None is NULL either way, as in ``COPY``.  JSON
    columns are serialised as the engine would."""
    if not rows:
        return
    columns = list(rows[0])
    if any(row.keys() != rows[0].keys() for row in rows):
        for start in range(0, len(rows), _WRITE_CHUNK):
            session.execute(insert(model), list(rows[start : start + _WRITE_CHUNK]))
        return
    if session.get_bind().dialect.name != "postgresql":
        session.flush()  # pending ORM writes first: a Core insert goes around the unit of work
        for start in range(0, len(rows), _WRITE_CHUNK):
            session.execute(model.__table__.insert(), list(rows[start : start + _WRITE_CHUNK]))
        return
    table = model.__table__
    as_json = [isinstance(table.c[name].type, JSON) for name in columns]
    names = ", ".join(table.c[name].name for name in columns)
    session.flush()  # pending ORM writes first: COPY goes around the unit of work
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row([json_serializer(row[name]) if is_json else row[name]
                            for name, is_json in zip(columns, as_json, strict=True)])  # fmt: skip


def replace_scores(*, session: Session, rows: Iterable[dict[str, Any]], keep_unlisted: bool = False) -> int:
    """Replace the score table's rows by ``rows`` (or only the listed accounts' rows if ``keep_unlisted``)."""
    rows = list(rows)
    if keep_unlisted:
        ids = [row["account_id"] for row in rows]
        for start in range(0, len(ids), _WRITE_CHUNK):
            chunk = ids[start : start + _WRITE_CHUNK]
            session.execute(delete(AccountScore).where(AccountScore.account_id.in_(chunk)))
    else:
        session.execute(delete(AccountScore))
    insert_rows(session=session, model=AccountScore, rows=rows)
    return len(rows)


def delete_scores(*, session: Session, account_ids: Sequence[str]) -> None:
    ids = list(account_ids)
    for start in range(0, len(ids), _WRITE_CHUNK):
        session.execute(delete(AccountScore).where(AccountScore.account_id.in_(ids[start : start + _WRITE_CHUNK])))


def upsert_account_states(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    ids = [row["account_id"] for row in rows]
    for start in range(0, len(ids), _WRITE_CHUNK):
        session.execute(delete(AccountState).where(AccountState.account_id.in_(ids[start : start + _WRITE_CHUNK])))
    insert_rows(session=session, model=AccountState, rows=rows)


def clear_account_states(*, session: Session) -> None:
    session.execute(delete(AccountState))


def put_artifact(*, session: Session, artifact: DetectionArtifact) -> None:
    """Replace the artifact of that name without reading the old one (``merge`` would load its ~100 MB first)."""
    session.execute(delete(DetectionArtifact).where(DetectionArtifact.name == artifact.name))
    values = {column.key: getattr(artifact, column.key) for column in DetectionArtifact.__mapper__.column_attrs}
    session.execute(insert(DetectionArtifact).values(**values))


def add_cluster(*, session: Session, cluster: Cluster) -> None:
    session.add(cluster)


def replace_members(*, session: Session, members: Mapping[str, Iterable[str]]) -> None:
    """cluster_members becomes exactly ``members`` (cluster_id → account ids).

    Only the clusters whose members changed are rewritten: from one run to the next most clusters keep theirs,
    and rewriting every row cost most of an incremental run's write-back."""
    wanted = {cid: set(accounts) for cid, accounts in members.items()}
    stored: dict[str, set[str]] = {}
    for cid, aid in session.execute(select(ClusterMember.cluster_id, ClusterMember.account_id)):
        stored.setdefault(cid, set()).add(aid)
    stale = [cid for cid, accounts in stored.items() if wanted.get(cid) != accounts]
    for start in range(0, len(stale), _WRITE_CHUNK):
        session.execute(delete(ClusterMember).where(ClusterMember.cluster_id.in_(stale[start : start + _WRITE_CHUNK])))
    rows = [{"cluster_id": cid, "account_id": aid} for cid, accounts in wanted.items()
            if stored.get(cid) != accounts for aid in sorted(accounts)]  # fmt: skip
    insert_rows(session=session, model=ClusterMember, rows=rows)


def add_history(*, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(ClusterHistory), list(rows))


# ---- labels and models ---------------------------------------------------------------------------------------
def reviews(*, session: Session) -> list[Review]:
    """Every verdict, oldest first (a later verdict on a cluster supersedes an earlier one)."""
    return list(session.scalars(select(Review).order_by(Review.created_at, Review.id)))


def list_models(*, session: Session) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc())))


def get_model(*, session: Session, version: str) -> ModelVersion | None:
    return session.get(ModelVersion, version)


def model_with_status(*, session: Session, status: str) -> ModelVersion | None:
    query = select(ModelVersion).where(ModelVersion.status == status).order_by(ModelVersion.created_at.desc())
    return session.scalars(query.limit(1)).first()


def add_model(*, session: Session, model: ModelVersion) -> ModelVersion:
    session.add(model)
    session.flush()
    return model


def set_model_status(*, session: Session, versions: Sequence[str], status: str) -> None:
    session.execute(
        update(ModelVersion).where(ModelVersion.version.in_(list(versions))).values(status=status)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
