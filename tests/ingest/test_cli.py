"""`distillguard ingest PATH…` writes files straight to the configured database."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings, get_settings
from tests.ingest.helpers import count, make_event, ndjson, rows


@pytest.fixture
def configured(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("DISTILLGUARD_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def test_ndjson_gzip_json_and_parquet_files_are_imported(
    configured: Settings, tmp_path: Path, db_session: Session
) -> None:
    events = [make_event(i, seed=3) for i in range(40)]
    (tmp_path / "a.ndjson.gz").write_bytes(gzip.compress(ndjson(events[:10]) + b"{not json}\n"))
    (tmp_path / "b.json").write_bytes(orjson.dumps([*events[10:20], {"request_id": "x"}]))
    table = [
        {k: v for k, v in e.items() if k != "messages"} | {"prompt": e["messages"][1]["content"]} for e in events[20:]
    ]
    pq.write_table(pa.Table.from_pylist(table), tmp_path / "c.parquet")
    paths = [str(tmp_path / name) for name in ("a.ndjson.gz", "b.json", "c.parquet")]
    result = CliRunner().invoke(cli, ["ingest", *paths])
    assert result.exit_code == 0, result.output
    assert "accepted 40, duplicates 0, rejected 2" in result.output
    assert "malformed JSON at line 11" in result.output and "account_id: required" in result.output
    assert count(db_session) == 40
    assert rows(db_session, "SELECT count(*) FROM events WHERE prompt_text IS NOT NULL")[0][0] == 40
    again = CliRunner().invoke(cli, ["ingest", paths[0]])
    assert "accepted 0, duplicates 10" in again.output


def test_gateway_formats_are_imported_with_their_adapter(
    configured: Settings, tmp_path: Path, db_session: Session
) -> None:
    from tests.ingest.test_kong_adapter import http_log

    (tmp_path / "kong.json").write_bytes(orjson.dumps([http_log(i) for i in range(5)]))
    result = CliRunner().invoke(cli, ["ingest", "--source", "kong", str(tmp_path / "kong.json")])
    assert result.exit_code == 0, result.output
    assert "accepted 5" in result.output and count(db_session) == 5
