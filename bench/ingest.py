"""Ingest throughput: the machine's raw limit against distillguard over HTTP (a benchmark, not a test).

    .venv/bin/python bench/ingest.py [--events 200000] [--workers 1 2] [--rss-mb 100]

(a) raw limit: the same NDJSON parsed with orjson and COPYed into a bare PostgreSQL table (no
    indexes, no constraints), one process;
(b) distillguard: `uvicorn app.main:create_app` on 127.0.0.1, 5,000-event NDJSON batches from 4
    concurrent clients (a new connection per batch, so that uvicorn's workers share the load), into
    PostgreSQL and into SQLite, once per uvicorn worker count given
    (default: 1 and 2 worker processes; the machine has 2 cores);
(c) the server's peak RSS (VmHWM) while it ingests one ~100 MB NDJSON body.

Prompts come from ../shared/corpora/dev when it is there (real text lengths and wording), else
from a procedural generator.  Needs PostgreSQL at DISTILLGUARD_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/postgres); creates and drops its own databases.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app import migrate
from app.auth import service as keys_service
from app.db import make_engine, session_factory

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora" / "dev"
ADMIN_URL = os.environ.get("DISTILLGUARD_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BATCH = 5000
CLIENTS = 4


def load_texts() -> tuple[list[str], list[str]]:
    users: list[str] = []
    systems: list[str] = []
    if CORPORA.is_dir():
        for path in sorted(CORPORA.glob("*.jsonl")):
            for line in path.read_bytes().splitlines():
                text = orjson.loads(line).get("text") if line.strip() else None
                if isinstance(text, str) and text.strip():
                    (systems if "system" in path.name else users).append(text)
    if not users:
        rng = random.Random(5)
        words = [f"w{rng.randrange(5000)}" for _ in range(20000)]
        users = [" ".join(rng.choice(words) for _ in range(rng.randrange(5, 120))) for _ in range(5000)]
        systems = ["You are a careful assistant. Think step by step.", "Answer briefly."]
    return users, systems


def make_events(n: int, *, seed: int) -> list[bytes]:
    """NDJSON lines of canonical events: ~5k accounts, one in two with a system prompt."""
    users, systems = load_texts()
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    lines = []
    for i in range(n):
        messages = [{"role": "user", "content": rng.choice(users)}]
        if rng.random() < 0.5:
            messages.insert(0, {"role": "system", "content": rng.choice(systems)})
        event = {
            "request_id": f"{run}-{seed}-{i}", "account_id": f"acct-{rng.randrange(5000)}",
            "ts": 1767225600 + i * 0.01, "ip": f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.7",
            "user_agent": rng.choice(["python-httpx/0.27.0", "OpenAI/Python 1.54.0", "curl/8.5.0"]),
            "model": "frontier-1", "endpoint": "/v1/chat/completions", "messages": messages, "max_tokens": 1024,
            "temperature": 0.7, "stream": False, "prompt_tokens": rng.randrange(10, 2000),
            "completion_tokens": rng.randrange(10, 2000), "status": 200, "latency_ms": 812.5,
        }  # fmt: skip
        lines.append(orjson.dumps(event))
    return lines


def process_cpu(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far (PostgreSQL backends included)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def backend_pids(database_url: str) -> list[int]:
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)).fetchall()
    return [int(pid) for (pid,) in rows]


def raw_limit(lines: list[bytes], database_url: str) -> tuple[float, float]:
    """(a) orjson + COPY into a bare table: events per second, CPU µs per event (loader + PostgreSQL)."""
    columns = ("request_id", "account_id", "ts", "ip", "user_agent", "model", "endpoint", "messages", "max_tokens",
               "temperature", "stream", "prompt_tokens", "completion_tokens", "status", "latency_ms")  # fmt: skip
    types = ("text", "text", "float8", "text", "text", "text", "text", "jsonb", "int", "float8", "bool", "int", "int",
             "int", "float8")  # fmt: skip
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw")
        conn.execute(f"CREATE TABLE bench_raw ({', '.join(f'{c} {t}' for c, t in zip(columns, types, strict=True))})")
        backend = [int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])]  # type: ignore[index]
        cpu = time.process_time() + process_cpu(backend)
        started = time.perf_counter()
        statement = f"COPY bench_raw ({', '.join(columns)}) FROM STDIN"
        with conn.transaction(), conn.cursor() as cursor, cursor.copy(statement) as copy:
            for line in lines:
                event = orjson.loads(line)
                copy.write_row([orjson.dumps(event[c]).decode() if c == "messages" else event.get(c)
                                for c in columns])  # fmt: skip
        elapsed = time.perf_counter() - started
        cpu = time.process_time() + process_cpu(backend) - cpu
        conn.execute("DROP TABLE bench_raw")
    return len(lines) / elapsed, cpu / len(lines) * 1e6


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """distillguard under uvicorn in a subprocess (as `distillguard serve` runs it)."""

    def __init__(self, database_url: str, *, workers: int, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        env = {**os.environ, "DISTILLGUARD_DATABASE_URL": database_url, "DISTILLGUARD_LOG_LEVEL": "WARNING",
               "DISTILLGUARD_EMBEDDED_WORKER": "false", **(extra_env or {})}  # fmt: skip
        migrate.upgrade(database_url)
        engine = make_engine(database_url)
        with session_factory(engine).begin() as session:
            _, self.key = keys_service.create_key(session=session, role="ingest", name="bench")
        engine.dispose()
        env["DISTILLGUARD_AUTO_MIGRATE"] = "false"
        command = [
            sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
            "--port", str(self.port), "--workers", str(workers), "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, env=env, cwd=ROOT)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def pids(self) -> list[int]:
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        return pids

    def cpu_seconds(self, database_url: str | None = None) -> float:
        """CPU seconds of uvicorn's processes (and of their PostgreSQL backends) so far."""
        return process_cpu(self.pids() + (backend_pids(database_url) if database_url else []))

    def peak_rss_mb(self) -> float:
        """Peak resident memory of the server process (VmHWM), largest over uvicorn's processes."""
        peak = 0
        for pid in self.pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        return peak / 1024

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def http_throughput(
    server: Server, bodies: list[bytes], n_events: int, database_url: str | None = None
) -> tuple[float, float]:
    """(b) 4 clients posting the 5,000-event NDJSON bodies: events/s, server (+ PostgreSQL) CPU µs per event."""
    headers = {"Authorization": f"Bearer {server.key}", "Content-Type": "application/x-ndjson"}
    queue = list(enumerate(bodies))
    lock = threading.Lock()
    accepted: list[int] = []
    failures: list[str] = []

    def client() -> None:
        # a connection per request: uvicorn's workers share the listening socket, and 4 kept-alive connections
        # stay with whichever worker accepted them (often one worker got 3 or all 4, and the others idled)
        with httpx.Client(timeout=300, limits=httpx.Limits(max_keepalive_connections=0)) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    _, body = queue.pop()
                response = http.post(server.url + "/v1/events", content=body, headers=headers)
                if response.status_code != 200:
                    failures.append(response.text[:300])
                    return
                accepted.append(response.json()["accepted"])

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    httpx.post(server.url + "/v1/events", content=b"[]", headers=headers, timeout=60)  # warm up
    cpu = server.cpu_seconds(database_url)
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu = server.cpu_seconds(database_url) - cpu
    if failures or sum(accepted) != n_events:
        raise RuntimeError(f"ingest failed: accepted {sum(accepted)} of {n_events}; {failures[:1]}")
    return n_events / elapsed, cpu / n_events * 1e6


def make_database() -> str:
    name = f"distillguard_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(url: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def batches(lines: list[bytes]) -> list[bytes]:
    return [b"\n".join(lines[i : i + BATCH]) + b"\n" for i in range(0, len(lines), BATCH)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="uvicorn worker processes, one run each")
    parser.add_argument("--rss-mb", type=int, default=100, help="size of the one-body memory test (0: skip)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    lines = make_events(args.events, seed=1)
    size_mb = sum(len(line) + 1 for line in lines) / 1e6
    print(f"{args.events:,} events, {size_mb:.0f} MB NDJSON ({'corpus' if CORPORA.is_dir() else 'procedural'} prompts)")
    results: dict[str, Any] = {"events": args.events, "ndjson_mb": round(size_mb, 1), "workers": args.workers,
                               "load_average_at_start": os.getloadavg()[0]}  # fmt: skip
    print(f"load average at start: {os.getloadavg()[0]:.2f} (other processes on the machine skew every figure)")

    database = make_database()
    try:
        rate, cpu = raw_limit(lines, database)
    finally:
        drop_database(database)
    results["raw_copy_events_per_s"], results["raw_copy_cpu_us_per_event"] = round(rate), round(cpu, 1)
    print(f"(a) raw orjson + COPY, bare table:       {results['raw_copy_events_per_s']:>9,} events/s; "
          f"CPU {results['raw_copy_cpu_us_per_event']} µs/event (loader + PostgreSQL)")  # fmt: skip
    fresh = make_events(args.events, seed=2)  # for SQLite (each run has a database of its own anyway)
    for workers in args.workers:
        key = f"{workers}_worker{'s' if workers > 1 else ''}"
        database = make_database()
        try:
            server = Server(database, workers=workers)
            try:
                rate, cpu = http_throughput(server, batches(lines), len(lines), database)
            finally:
                server.stop()
        finally:
            drop_database(database)
        ratio = rate / results["raw_copy_events_per_s"]
        cpu_ratio = results["raw_copy_cpu_us_per_event"] / cpu  # steadier than the rates on a shared machine
        results[f"http_postgres_events_per_s_{key}"] = round(rate)
        results[f"server_cpu_us_per_event_postgres_{key}"] = round(cpu)
        results[f"ratio_{key}"] = round(ratio, 3)
        results[f"cpu_ratio_{key}"] = round(cpu_ratio, 3)
        print(f"(b) distillguard HTTP -> PostgreSQL, {workers} worker{'s' if workers > 1 else ' '}: {round(rate):>9,} "
              f"events/s ({ratio:.0%} of (a)); CPU {round(cpu)} µs/event (server + PostgreSQL), "
              f"{cpu_ratio:.0%} of (a)'s events per CPU second")  # fmt: skip

        with tempfile.TemporaryDirectory() as tmp:
            server = Server(f"sqlite:///{tmp}/bench.db", workers=workers)
            try:
                rate, cpu = http_throughput(server, batches(fresh), len(fresh))
            finally:
                server.stop()
        results[f"http_sqlite_events_per_s_{key}"] = round(rate)
        results[f"server_cpu_us_per_event_sqlite_{key}"] = round(cpu)
        print(f"(b) distillguard HTTP -> SQLite,     {workers} worker{'s' if workers > 1 else ' '}: {round(rate):>9,} "
              f"events/s; server CPU {round(cpu)} µs/event")  # fmt: skip

    if args.rss_mb:
        results.update(rss_test(args.rss_mb))
        print(f"(c) one {results['rss_body_mb']:.0f} MB NDJSON body ({results['rss_body_events']:,} events): "
              f"server peak RSS {results['rss_peak_mb']:.0f} MB (idle {results['rss_idle_mb']:.0f} MB), "
              f"{results['rss_seconds']:.1f} s")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def rss_test(body_mb: int) -> dict[str, Any]:
    lines: list[bytes] = []
    size = 0
    seed = 10
    while size < body_mb * 1e6:
        more = make_events(20_000, seed=seed)
        seed += 1
        for line in more:
            if size >= body_mb * 1e6:
                break
            lines.append(line)
            size += len(line) + 1
    body = b"\n".join(lines) + b"\n"
    limits = {"DISTILLGUARD_MAX_BODY_BYTES": str(len(body) + 1), "DISTILLGUARD_MAX_DECOMPRESSED_BYTES":
              str(len(body) + 1), "DISTILLGUARD_MAX_RECORDS_PER_REQUEST": str(len(lines))}  # fmt: skip
    database = make_database()
    try:
        server = Server(database, workers=1, extra_env=limits)
        try:
            idle = server.peak_rss_mb()
            started = time.perf_counter()
            response = httpx.post(server.url + "/v1/events", content=body, timeout=600,
                                  headers={"Authorization": f"Bearer {server.key}",
                                           "Content-Type": "application/x-ndjson"})  # fmt: skip
            elapsed = time.perf_counter() - started
            if response.status_code != 200 or response.json()["accepted"] != len(lines):
                raise RuntimeError(f"100 MB body failed: {response.status_code} {response.text[:300]}")
            peak = server.peak_rss_mb()
        finally:
            server.stop()
    finally:
        drop_database(database)
    return {"rss_body_mb": round(len(body) / 1e6, 1), "rss_body_events": len(lines), "rss_idle_mb": round(idle),
            "rss_peak_mb": round(peak), "rss_seconds": round(elapsed, 1)}  # fmt: skip


if __name__ == "__main__":
    main()
