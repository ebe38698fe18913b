"""detection artifacts stored without compression on PostgreSQL

The feature state (~180 MB of pickled arrays for a million events) is rewritten by full runs; PostgreSQL's default
``EXTENDED`` storage tries to pglz-compress every value before moving it out of line, which cost ~9 s per 100 MB
and saved nothing on this data.  ``EXTERNAL`` keeps the out-of-line storage without the compression attempt.
SQLite has no such setting.

Revision ID: 0004
Revises: 0003r
Create Date: 2026-11-28 03:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003r"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE detection_artifacts ALTER COLUMN payload SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE detection_artifacts ALTER COLUMN payload SET STORAGE EXTENDED")
