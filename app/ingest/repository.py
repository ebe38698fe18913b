"""Event and account writes: the only SQL of the ingest package.

Events go in batches through the fastest path each database has.  SQLite: ``INSERT OR IGNORE``
through ``executemany``.  PostgreSQL: a batch of up to ``FAST_PATH_ROWS`` new events is ``COPY``ed
straight into ``events`` (sorted by request_id, inside a savepoint); if any of them is already
stored (a retry) or an identical batch is being stored concurrently, the COPY fails on the unique
index, the savepoint is rolled back and the batch takes the merge path instead: ``COPY`` into a
temporary staging table, then one ``INSERT … SELECT … ORDER BY request_id ON CONFLICT DO
NOTHING``.  Larger requests take the merge path directly.  Either way a repeated ``request_id``
is a no-op; PostgreSQL makes the second of two identical transactions wait for the first and
then skip, and the sorted order means overlapping batches take row locks in the same order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg.errors
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.ingest.models import Account
from detectors.events import EVENT_COLUMNS

# storage order of an event row tuple (the events table minus its surrogate id)
STORED_COLUMNS: tuple[str, ...] = (
    "request_id", "account_id", "ts", "ingested_at",
    *(c for c in EVENT_COLUMNS if c not in ("request_id", "account_id", "ts")),
)  # fmt: skip

_PG_TYPES = {"string": "text", "Int64": "integer", "Float64": "double precision", "boolean": "boolean"}
_STAGING = "ingest_events_staging"
_COLUMN_LIST = ", ".join(STORED_COLUMNS)
# rows go to PostgreSQL in COPY's binary format: a third of the client CPU of the text format and
# less parsing in the server (text is also the wire format of varchar)
_BINARY_TYPES = {"string": "text", "Int64": "int4", "Float64": "float8", "boolean": "bool"}
_COPY_TYPES = [
    "float8" if name in ("ts", "ingested_at") else _BINARY_TYPES[EVENT_COLUMNS[name]] for name in STORED_COLUMNS
]
# the accounts of a batch that are not stored yet: an anti-join skips the known ones (most, once traffic
# has been seen) for a fraction of what ON CONFLICT costs per conflicting row; ON CONFLICT still settles
# two transactions that add the same new account at once
_NEW_ACCOUNTS = (
    "INSERT INTO accounts (account_id, has_metadata) SELECT u.account_id, false "
    "FROM unnest(%s::text[]) AS u(account_id) "
    "WHERE NOT EXISTS (SELECT FROM accounts AS a WHERE a.account_id = u.account_id) ORDER BY 1 "
    "ON CONFLICT (account_id) DO NOTHING"
)
FAST_PATH_ROWS = 10_000  # a request this small is kept in memory for the optimistic direct COPY


def _staging_ddl() -> str:
    types = {name: _PG_TYPES.get(dtype, "double precision") for name, dtype in EVENT_COLUMNS.items()}
    types.update(ts="double precision", ingested_at="double precision")
    columns = ", ".join(f"{name} {types[name]}" for name in STORED_COLUMNS)
    return f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} ({columns}) ON COMMIT DROP"


class EventWriter:
    """Batches of event rows (tuples in STORED_COLUMNS order) written within the session's transaction.

    ``add`` may be called many times; ``finish`` makes the rows visible in ``events`` and
    ``accounts`` and returns how many events were new.
    """

    def __init__(self, session: Session) -> None:
        self._connection = session.connection()
        self._dialect = self._connection.dialect.name
        self._driver: Any = self._connection.connection.driver_connection
        self._inserted = 0
        self._staged = False
        self._pending: list[tuple[Any, ...]] = []  # PostgreSQL rows waiting for the fast path
        self._accounts: set[str] = set()

    def add(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self._dialect != "postgresql":
            self._sqlite_insert(rows)
        elif self._staged or len(self._pending) + len(rows) > FAST_PATH_ROWS:
            self._copy_to_staging([*self._pending, *rows])
            self._pending = []
        else:
            self._pending.extend(rows)

    def finish(self) -> int:
        if self._dialect == "postgresql":
            if self._pending and not self._copy_direct(self._pending):
                self._copy_to_staging(self._pending)
            self._pending = []
            if self._staged:
                self._pg_merge()
        elif self._accounts:
            cursor = self._driver.cursor()
            cursor.executemany(
                "INSERT OR IGNORE INTO accounts (account_id, has_metadata) VALUES (?, 0)",
                [(account,) for account in sorted(self._accounts)],
            )
            cursor.close()
            self._accounts.clear()
        return self._inserted

    def _copy_direct(self, rows: list[tuple[Any, ...]]) -> bool:
        """COPY new events straight into ``events``; False (and nothing written) if one already exists."""
        rows.sort(key=_request_id)
        with self._driver.cursor() as cursor:
            cursor.execute("SAVEPOINT ingest_direct")
            try:
                with cursor.copy(f"COPY events ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(_COPY_TYPES)
                    write = copy.write_row
                    for row in rows:
                        write(row)
            except (psycopg.errors.UniqueViolation, psycopg.errors.DeadlockDetected):
                cursor.execute("ROLLBACK TO SAVEPOINT ingest_direct")
                return False
            cursor.execute("RELEASE SAVEPOINT ingest_direct")
            cursor.execute(_NEW_ACCOUNTS, (sorted({row[1] for row in rows}),))
        self._inserted += len(rows)
        return True

    def _copy_to_staging(self, rows: Sequence[tuple[Any, ...]]) -> None:
        with self._driver.cursor() as cursor:
            if not self._staged:
                cursor.execute(_staging_ddl())
                cursor.execute(f"TRUNCATE {_STAGING}")  # left over when one transaction writes twice
                self._staged = True
            with cursor.copy(f"COPY {_STAGING} ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_COPY_TYPES)
                write = copy.write_row
                for row in rows:
                    write(row)

    def _pg_merge(self) -> None:
        with self._driver.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO events ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM {_STAGING} "
                "ORDER BY request_id ON CONFLICT (request_id) DO NOTHING"
            )
            self._inserted += max(cursor.rowcount, 0)
            cursor.execute(
                "INSERT INTO accounts (account_id, has_metadata) "
                f"SELECT DISTINCT s.account_id, false FROM {_STAGING} AS s WHERE NOT EXISTS "
                "(SELECT FROM accounts AS a WHERE a.account_id = s.account_id) ORDER BY 1 "
                "ON CONFLICT (account_id) DO NOTHING"
            )
            cursor.execute(f"DROP TABLE {_STAGING}")
        self._staged = False

    def _sqlite_insert(self, rows: Sequence[tuple[Any, ...]]) -> None:
        cursor = self._driver.cursor()
        placeholders = ", ".join("?" * len(STORED_COLUMNS))
        cursor.executemany(f"INSERT OR IGNORE INTO events ({_COLUMN_LIST}) VALUES ({placeholders})", rows)
        self._inserted += max(cursor.rowcount, 0)
        cursor.close()
        self._accounts.update(row[1] for row in rows)


def _request_id(row: tuple[Any, ...]) -> Any:
    return row[0]


def upsert_accounts(*, session: Session, records: Iterable[dict[str, Any]]) -> int:
    """Insert or update account metadata; fields absent from a record keep their stored value."""
    by_fields: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for record in records:
        by_fields.setdefault(tuple(sorted(record)), []).append(record)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = datetime.now(UTC)
    count = 0
    for fields, group in by_fields.items():
        values = [{**record, "has_metadata": True, "updated_at": now} for record in group]
        statement = insert(Account)
        updated = {name: statement.excluded[name] for name in (*fields, "has_metadata", "updated_at")
                   if name != "account_id"}  # fmt: skip
        session.execute(statement.on_conflict_do_update(index_elements=["account_id"], set_=updated), values)
        count += len(group)
    return count
