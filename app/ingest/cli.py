"""``distillguard ingest PATH…``: bulk import of NDJSON / JSON / Parquet files (gzip too).

Writes straight to the configured database through the same service code as the HTTP routes,
one transaction per slice of records, or posts the slices to a running service (``--url``).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from app import migrate
from app.config import Settings, get_settings
from app.db import make_engine, session_factory
from app.ingest import service
from app.ingest.adapters.kong import kong_event
from app.ingest.adapters.litellm import litellm_event
from app.ingest.parsing import GZIP_MAGIC, inflate_file_bytes, is_ndjson, iter_ndjson_lines, iter_records
from app.ingest.schemas import RejectedRecord

SLICE = 50_000  # records per transaction (or per POST)
SOURCES = ("events", "litellm", "kong")


def _plain(value: Any) -> Any:
    """Parquet gives datetimes; the ingest contract speaks RFC 3339 / epoch seconds."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return value


def read_file(path: Path, *, inflate_limit: int) -> Iterator[Any]:
    """Records of one file, decided by its suffixes: .parquet, else JSON array or NDJSON (sniffed)."""
    suffixes = [s.lower() for s in path.suffixes]
    if ".parquet" in suffixes:
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
            for record in batch.to_pylist():
                yield {key: _plain(value) for key, value in record.items() if value is not None}
        return
    with path.open("rb") as raw:
        packed = raw.read(2) == GZIP_MAGIC
    with gzip.open(path, "rb") if packed else path.open("rb") as stream:
        head = stream.read(4096)
        stream.seek(0)
        if ".ndjson" in suffixes or ".jsonl" in suffixes or is_ndjson(head, None):
            yield from iter_ndjson_lines(stream)
            return
    body = inflate_file_bytes(path.read_bytes(), limit=inflate_limit)  # a JSON array is decoded from memory
    yield from iter_records(body, ndjson=False)


def _slices(records: Iterator[Any]) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= SLICE:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _adapter(source: str, settings: Settings) -> service.Adapter | None:
    if source == "litellm":
        return partial(litellm_event, account_fields=settings.litellm_account_fields)
    if source == "kong":
        return partial(kong_event, account_fields=settings.kong_account_fields)
    return None


class _Database:
    """Slices stored through the service, one transaction each."""

    def __init__(self, settings: Settings, source: str) -> None:
        migrate.upgrade(settings.database_url)
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.sessions = session_factory(self.engine)
        self.adapter = _adapter(source, settings)

    def close(self) -> None:
        self.engine.dispose()

    def send(self, records: list[Any], offset: int) -> service.IngestResult:
        with self.sessions.begin() as session:
            return service.ingest_records(
                session=session, records=records, retention=self.settings.prompt_retention,
                adapter=self.adapter, index_offset=offset,
            )  # fmt: skip


class _Service:
    """Slices posted as NDJSON to a running distillguard."""

    def __init__(self, url: str, key: str, source: str) -> None:
        path = "/v1/events" if source == "events" else f"/v1/ingest/{source}"
        self.endpoint = url.rstrip("/") + path
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"}

    def send(self, records: list[Any], offset: int) -> service.IngestResult:
        body = b"".join(orjson.dumps(record) + b"\n" for record in records)
        response = httpx.post(self.endpoint, content=body, headers=self.headers, timeout=300)
        if response.status_code != 200:
            raise typer.BadParameter(f"{self.endpoint} answered {response.status_code}: {response.text[:500]}")
        data = response.json()
        rejected = [RejectedRecord.model_validate({**r, "index": r["index"] + offset}) for r in data["rejected"]]
        return service.IngestResult(
            accepted=data["accepted"], duplicates=data["duplicates"], rejected=rejected,
            rejected_count=len(rejected),
        )  # fmt: skip

    def close(self) -> None:
        pass


def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="NDJSON / JSON / Parquet files, optionally .gz", exists=True, dir_okay=False)
    ],
    source: Annotated[str, typer.Option(help="record format: events, litellm or kong")] = "events",
    url: Annotated[str | None, typer.Option(help="post to this running service instead of the database")] = None,
    key: Annotated[str | None, typer.Option(help="ingest API key for --url", envvar="DISTILLGUARD_INGEST_KEY")] = None,
) -> None:
    """Import request logs; prints a summary (accepted, duplicates, rejected with the first reasons)."""
    if source not in SOURCES:
        raise typer.BadParameter(f"--source must be one of {', '.join(SOURCES)}")
    settings = get_settings()
    if url:
        if not key:
            raise typer.BadParameter("--url needs --key (or DISTILLGUARD_INGEST_KEY)")
        target: _Database | _Service = _Service(url, key, source)
    else:
        target = _Database(settings, source)
    try:
        total = _import(paths, target, settings)
    finally:
        target.close()
    typer.echo(f"accepted {total.accepted}, duplicates {total.duplicates}, rejected {total.rejected_count}")
    for item in total.rejected[:20]:
        reasons = "; ".join(f"{e.field or 'record'}: {e.reason}" for e in item.errors)
        typer.echo(f"  record {item.index}{f' ({item.request_id})' if item.request_id else ''}: {reasons}")
    if total.rejected_count > 20:
        typer.echo(f"  … and {total.rejected_count - 20} more")


def _import(paths: list[Path], target: _Database | _Service, settings: Settings) -> service.IngestResult:
    total = service.IngestResult()
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TextColumn("{task.fields[n]}"),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns) as progress:
        task = progress.add_task("files", total=sum(p.stat().st_size for p in paths), n="")
        for path in paths:
            progress.update(task, description=path.name)
            offset = 0
            for chunk in _slices(read_file(path, inflate_limit=max(settings.max_decompressed_bytes, 1 << 34))):
                total.merge(target.send(chunk, offset))
                offset += len(chunk)
                progress.update(task, n=f"{total.accepted:,} stored")
            progress.advance(task, path.stat().st_size)
    return total


def register(cli: typer.Typer) -> None:
    cli.command("ingest")(ingest)
