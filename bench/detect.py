"""Benchmark: detection runs over ~1M events / ~20k accounts, and the risk endpoint's latency under load.

    .venv/bin/python bench/detect.py                                   # SQLite in var/bench/
    .venv/bin/python bench/detect.py --db postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/detect.py --skip-api --scale 7 --days 3
    .venv/bin/python bench/detect.py --skip-api --repeat 3            # three full + incremental pairs, one median

Targets (issue 7, 2 cores): a full run ≤ 90 s end to end (load from the database, features, linking, scoring,
write-back) with ≤ 4 GB peak RSS; an incremental run after 5% new events ≤ 20% of the full run's time;
``GET /v1/accounts/{id}/risk`` p99 < 20 ms at 200 requests/s.

1. The simulator builds the population in a child process, cached as Parquet under ``var/bench/`` (not timed).
2. The oldest 95% of events (by timestamp) and all account metadata are written to a fresh database.
3. A child process — the worker being measured — runs a full detection; then the newest 5% of events are
   written (not timed) and it runs an incremental detection, as a long-running worker would.  Its peak RSS is
   its own high-water mark (the simulator's and the loader's memory are not counted).
4. After a vacuum/analyze and a checkpoint (the steady state of a production database, not the minute after a
   bulk load), ``uvicorn app.main:create_app`` serves the database on 127.0.0.1 and a paced client sends
   ``GET /v1/accounts/{id}/risk`` for random scored accounts at 200 requests/s; latency is measured from each
   request's scheduled send time, so a server that falls behind shows it.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")  # the target machine has 2 cores

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CACHE = ROOT / "var" / "bench"
NEW_SHARE = 0.05
CONNECTIONS = 32  # keep-alive connections of the paced risk-endpoint client
CHUNK = 50_000


def _cache(args: argparse.Namespace) -> Path:
    return CACHE / f"detect-s{args.scale}-d{args.days}-{args.seed}-{args.retention}"


def generate(args: argparse.Namespace) -> None:
    from app.simulation import SimulationConfig, simulate
    from detectors.events import to_event_frame

    started = time.perf_counter()
    population = simulate(SimulationConfig(seed=args.seed, scale=args.scale, days=args.days))
    events = to_event_frame(population.events, args.retention)
    cache = _cache(args)
    cache.parent.mkdir(parents=True, exist_ok=True)
    events.to_parquet(f"{cache}.events.parquet")
    pd.DataFrame.from_records(population.accounts).to_parquet(f"{cache}.accounts.parquet")
    print(f"generated {len(events):,} events in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def _fresh_database(url: str | None) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from app.config import Settings

    if url is None:
        path = CACHE / "detect.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    admin_url = make_url(Settings(database_url=url).database_url)
    name = f"distillguard_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.set(database=name).render_as_string(hide_password=False)


class _Snapshot:
    """The loaded database as the measured worker first finds it, put back before each repetition (``--repeat``), so
    that every repetition's runs start from the same state and their spread is the machine's, not the data's."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        self.url = url
        self.sqlite = parsed.get_backend_name() == "sqlite"
        if self.sqlite:
            self.path = Path(str(parsed.database))
            for suffix in ("", "-wal", "-shm"):
                if Path(f"{self.path}{suffix}").exists():
                    shutil.copyfile(f"{self.path}{suffix}", f"{self.path}.snapshot{suffix}")
        else:  # PostgreSQL: a template copy of the loaded database
            self.name = str(parsed.database)
            self.copy = f"{self.name}_snapshot"
            # the loader's pooled connections would keep the template busy
            _admin(self.url,
                   f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}' "
                   "AND pid <> pg_backend_pid()",
                   f'CREATE DATABASE "{self.copy}" TEMPLATE "{self.name}"')  # fmt: skip

    def restore(self) -> None:
        if self.sqlite:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
                if Path(f"{self.path}.snapshot{suffix}").exists():
                    shutil.copyfile(f"{self.path}.snapshot{suffix}", f"{self.path}{suffix}")
            return
        _admin(self.url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)',
               f'CREATE DATABASE "{self.name}" TEMPLATE "{self.copy}"')  # fmt: skip

    def discard(self) -> None:
        if self.sqlite:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}.snapshot{suffix}").unlink(missing_ok=True)
        else:
            _admin(self.url, f'DROP DATABASE IF EXISTS "{self.copy}" WITH (FORCE)')


def _summary(runs: dict[str, Any]) -> dict[str, Any]:
    """One repetition's runs in a line: seconds, CPU and kernel CPU seconds, peak RSS."""
    keys = ("wall_seconds", "cpu_seconds", "system_cpu_seconds", "peak_rss_mb_so_far", "accounts_flagged")
    return {"full": {key: runs["full"][key] for key in keys},
            "incremental": {key: runs["incremental"][key] for key in keys},
            "incremental_share_of_full": runs["incremental_share_of_full"]}  # fmt: skip


def _admin(url: str, *statements: str) -> None:
    """``statements`` on the ``postgres`` database of ``url``'s server, outside a transaction."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    admin.dispose()


def _drop_database(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        _admin(url, f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


def write_events(url: str, events: pd.DataFrame) -> None:
    """Event-frame rows → the events table through the ingest package's writer (COPY on PostgreSQL)."""
    from app.db import make_engine, session_factory
    from app.ingest.repository import STORED_COLUMNS, EventWriter

    frame = events.copy()
    frame["ts"] = frame["ts"].astype("int64") / 1e9
    frame["ingested_at"] = time.time()
    sessions = session_factory(make_engine(url))
    for start in range(0, len(frame), CHUNK):
        part = frame.iloc[start : start + CHUNK][list(STORED_COLUMNS)].astype(object)
        rows = [tuple(None if pd.isna(v) else v for v in row) for row in part.itertuples(index=False, name=None)]
        with sessions.begin() as session:
            writer = EventWriter(session)
            writer.add(rows)
            writer.finish()


def load(args: argparse.Namespace, url: str) -> dict[str, Any]:
    from app import migrate
    from app.db import make_engine, session_factory
    from app.ingest.service import upsert_accounts

    cache = _cache(args)
    events = pd.read_parquet(f"{cache}.events.parquet").sort_values(["ts", "request_id"], kind="stable")
    accounts = pd.read_parquet(f"{cache}.accounts.parquet")
    migrate.upgrade(url)
    cut = int(len(events) * (1 - NEW_SHARE))
    started = time.perf_counter()
    with session_factory(make_engine(url)).begin() as session:
        records = [{k: v for k, v in r.items() if v is not None and not (isinstance(v, float) and np.isnan(v))}
                   for r in accounts.to_dict("records")]  # fmt: skip
        upsert_accounts(session=session, records=records)
    write_events(url, events.iloc[:cut])
    events.iloc[cut:].to_parquet(f"{cache}.new.parquet")
    return {"events_loaded": cut, "new_events": len(events) - cut, "accounts_metadata": len(accounts),
            "load_seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


def measure_runs(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """In the measured child: full run, then 5% new events, then an incremental run."""
    from app.config import Settings
    from app.db import make_engine, session_factory
    from app.scoring import repository, service, worker

    settings = Settings(database_url=url, embedded_worker=False, ipdata_dir=args.ipdata, log_level="WARNING")
    sessions = session_factory(make_engine(url))
    out: dict[str, Any] = {}
    for label in ("full", "incremental"):
        if label == "incremental":
            write_events(url, pd.read_parquet(f"{_cache(args)}.new.parquet"))
        with sessions.begin() as session:
            run_id = service.request_run(session=session, mode=label, requested_by="bench").id
        started, usage = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        worker.run_once(sessions, settings)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        with sessions() as session:
            run = repository.get_run(session=session, run_id=run_id)
            assert run is not None and run.status == "done", (run.status, run.error) if run else None
            stats = dict(run.stats)
        out[label] = {
            "wall_seconds": round(wall, 2),
            "cpu_seconds": round(after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime, 2),
            # the kernel's share: page faults, mostly (memory touched for the first time or given back and taken
            # again, which a VM whose host reclaims freed guest memory makes expensive)
            "system_cpu_seconds": round(after.ru_stime - usage.ru_stime, 2),
            "page_faults": after.ru_minflt - usage.ru_minflt,
            "stages": stats.get("seconds"), "linking_stages": (stats.get("linking") or {}).get("seconds"),
            "linking_events_encoded": (stats.get("linking") or {}).get("events_encoded"),
            "events_in_window": stats["events_in_window"],
            "events_processed": stats["events_processed"], "accounts_scored": stats["accounts_scored"],
            "accounts_flagged": stats["accounts_flagged"], "clusters": stats["clusters"],
            "clusters_flagged": stats["clusters_flagged"],
            "state_mb_written": round(stats.get("state_bytes", 0) / 2**20, 1),
            "peak_rss_mb_so_far": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }  # fmt: skip
    out["incremental_share_of_full"] = round(out["incremental"]["wall_seconds"] / out["full"]["wall_seconds"], 3)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def settle(url: str) -> None:
    """Let the database reach a steady state after the bulk load (statistics, checkpoint), as in production."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("VACUUM (ANALYZE)"))
            conn.execute(text("CHECKPOINT"))
        else:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            conn.execute(text("ANALYZE"))
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _paced_gets(base: str, key: str, ids: list[str], rate: float, seconds: float) -> dict[str, Any]:
    """Open-loop load: request ``i`` is due at ``begin + i / rate`` whatever happened to the ones before it, and its
    latency runs from that moment, so queueing in a server that falls behind is counted.

    The client is plain asyncio on ``CONNECTIONS`` keep-alive HTTP/1.1 connections (one request in flight on each):
    a general-purpose client's pool, with thousands of requests waiting for a connection, costs more CPU per
    request than the endpoint being measured and would make the client the bottleneck.
    """
    host, port = base.removeprefix("http://").split(":")
    total = int(rate * seconds)
    rng = random.Random(7)
    paths = [f"/v1/accounts/{rng.choice(ids)}/risk" for _ in range(total)]
    latencies: list[float] = []
    statuses: list[int] = []
    queue: asyncio.Queue[tuple[float, str] | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while (item := await queue.get()) is not None:
                scheduled, path = item
                status = await _get(reader, writer, host, path, key)
                latencies.append(loop.time() - scheduled)
                statuses.append(status)
        finally:
            writer.close()

    for warm in ids[:50]:  # warm the server's caches before measuring
        await queue.put((loop.time(), f"/v1/accounts/{warm}/risk"))
    workers = [asyncio.create_task(connection()) for _ in range(CONNECTIONS)]
    while not queue.empty():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)
    latencies.clear()
    statuses.clear()
    begin = loop.time() + 0.1
    for i, path in enumerate(paths):
        await asyncio.sleep(max(0.0, begin + i / rate - loop.time()))
        queue.put_nowait((begin + i / rate, path))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    ms = np.asarray(latencies) * 1000
    return {"requests": total, "rate_per_s": rate, "errors": sum(1 for status in statuses if status != 200),
            "p50_ms": round(float(np.percentile(ms, 50)), 2), "p90_ms": round(float(np.percentile(ms, 90)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "max_ms": round(float(ms.max()), 2)}  # fmt: skip


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str, key: str) -> int:
    """One GET on a keep-alive connection; the status code (the body is read and dropped)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    await reader.readexactly(length)
    return int(lines[0].split()[1])


def measure_api(url: str, rate: float, seconds: float, workers: int = 1) -> dict[str, Any]:
    from sqlalchemy import select

    from app.auth import service as keys_service
    from app.db import make_engine, session_factory
    from app.scoring.models import AccountScore

    sessions = session_factory(make_engine(url))
    with sessions.begin() as session:
        _, key = keys_service.create_key(session=session, role="analyst", name="bench")
        ids = list(session.scalars(select(AccountScore.account_id)))
    port = _free_port()
    env = {**os.environ, "DISTILLGUARD_DATABASE_URL": url, "DISTILLGUARD_EMBEDDED_WORKER": "false",
           "DISTILLGUARD_AUTO_MIGRATE": "false", "DISTILLGUARD_LOG_LEVEL": "WARNING"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1", "--port",
         str(port), "--log-level", "warning", "--no-access-log", "--workers", str(workers)], cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        import httpx

        for _ in range(200):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        return asyncio.run(_paced_gets(f"http://127.0.0.1:{port}", key, ids, rate, seconds))
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=7.0)
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--retention", default="full", choices=["full", "hashed", "none"])
    parser.add_argument("--db", default=None, help="PostgreSQL admin URL (a fresh database is created); default "
                        "SQLite")  # fmt: skip
    parser.add_argument("--ipdata", type=Path, default=None, help="IP data directory (e.g. ../shared/ipdata)")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--skip-api", action="store_true")
    parser.add_argument("--api-workers", type=int, default=1, help="uvicorn worker processes serving the API")
    parser.add_argument("--repeat", type=int, default=1, help="run the worker's full + incremental runs this many "
                        "times, each from the loaded database as it was (runs on a noisy machine compare in a median)")
    parser.add_argument("--keep-db", action="store_true", help="keep the PostgreSQL database (its URL is printed)")
    parser.add_argument("--api-only", metavar="URL", help="only measure the risk endpoint against an existing database")
    parser.add_argument("--phase", choices=["generate", "runs"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "generate":
        generate(args)
        return
    if args.phase == "runs":
        print(json.dumps(measure_runs(args, args.url)))
        return
    if args.api_only:
        settle(args.api_only)
        print(json.dumps(measure_api(args.api_only, args.rate, args.seconds, args.api_workers), indent=2))
        return
    common = ["--scale", str(args.scale), "--days", str(args.days), "--seed", str(args.seed), "--retention",
              args.retention]  # fmt: skip
    if not Path(f"{_cache(args)}.events.parquet").exists():
        subprocess.run([sys.executable, __file__, "--phase", "generate", *common], check=True)
    url = _fresh_database(args.db)
    try:
        report: dict[str, Any] = {"database": url.split("@")[-1].split("///")[-1], **load(args, url)}
        extra = ["--ipdata", str(args.ipdata)] if args.ipdata else []
        loaded = _Snapshot(url) if args.repeat > 1 else None
        repeats: list[dict[str, Any]] = []
        for repetition in range(args.repeat):
            if loaded is not None and repetition > 0:
                loaded.restore()
            child = subprocess.run([sys.executable, __file__, "--phase", "runs", "--url", url, *common, *extra],
                                   capture_output=True, text=True)  # fmt: skip
            if child.returncode != 0:
                sys.stderr.write(child.stderr)
                raise SystemExit(f"the measured worker failed (exit {child.returncode})")
            report["runs"] = json.loads(child.stdout.strip().splitlines()[-1])
            repeats.append(_summary(report["runs"]))
        if loaded is not None:
            loaded.discard()
            report["repeats"] = repeats
            report["incremental_share_median"] = float(np.median([r["incremental_share_of_full"] for r in repeats]))
        if not args.skip_api:  # a fresh client process: the loader's heap would add its GC pauses to the latencies
            client = subprocess.run([sys.executable, __file__, "--api-only", url, "--rate", str(args.rate),
                                     "--seconds", str(args.seconds), "--api-workers", str(args.api_workers)],
                                    check=True, capture_output=True, text=True)  # fmt: skip
            report["risk_endpoint"] = json.loads(client.stdout)
        print(json.dumps(report, indent=2))
    finally:
        if args.keep_db:
            print(f"kept {url}", file=sys.stderr)
        else:
            _drop_database(url)


if __name__ == "__main__":
    main()
