"""Detection quality end to end: simulate → ingest → detect → evaluate, against a running service.

    .venv/bin/python bench/quality.py                                   # starts its own service (temp SQLite)
    .venv/bin/python bench/quality.py --url http://127.0.0.1:8000 --key ADMIN_KEY
    .venv/bin/python bench/quality.py --scale 0.3 --days 10 --seed 7 --out var/quality

Prompts come from ``--corpus`` (default ``../shared/corpora/dev`` beside the repository, procedural
text when it is absent).  Accounts and events go to ``POST /v1/accounts`` and ``POST /v1/events`` in
5,000-record batches (gzip NDJSON), then a full detection run (``POST /v1/detection/runs``) is
polled until done, and every account's risk is read back through ``GET /v1/accounts``.  The
system and the three baselines are printed side by side; evaluation.json/.html land in ``--out``.
"""

from __future__ import annotations

import argparse
import gzip
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from app.evaluation import evaluate, fetch_scores, load_event_frame
from app.evaluation.report import terminal_table, write_html, write_json
from app.simulation import PRESETS, SimulationConfig, load_params, merge_params, simulate

ROOT = Path(__file__).resolve().parents[1]
DEV_CORPUS = ROOT.parent / "shared" / "corpora" / "dev"
BATCH = 5000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalService:
    """`distillguard serve` on a temporary SQLite database, with an admin key made by the CLI."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        exe = Path(sys.executable).with_name("distillguard")
        self.env = {**os.environ, "DISTILLGUARD_DATABASE_URL": f"sqlite:///{workdir / 'quality.db'}"}
        created = subprocess.run(
            [str(exe), "keys", "create", "--role", "admin", "--name", "bench-quality"],
            env=self.env, cwd=ROOT, check=True, capture_output=True, text=True,
        )  # fmt: skip
        self.key = created.stdout.strip().splitlines()[-1]
        self.log = (workdir / "serve.log").open("wb")
        command = [str(exe), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"service did not start; see {workdir / 'serve.log'}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def batches(records: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(records), BATCH):
        yield records[start : start + BATCH]


def post_all(client: httpx.Client, path: str, records: list[dict[str, Any]]) -> dict[str, int]:
    """Gzip NDJSON batches to ``path``; totals of the ingest responses."""
    totals = {"accepted": 0, "duplicates": 0, "rejected": 0, "upserted": 0}
    headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
    for batch in batches(records):
        body = gzip.compress(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in batch), 3)
        response = client.post(path, content=body, headers=headers)
        if response.status_code >= 400:
            raise RuntimeError(f"{path}: HTTP {response.status_code}: {response.text[:500]}")
        reply = response.json()
        for key in totals:
            value = reply.get(key, 0)
            totals[key] += len(value) if isinstance(value, list) else int(value or 0)
    return totals


def run_detection(client: httpx.Client, *, timeout_s: float) -> dict[str, Any]:
    response = client.post("/v1/detection/runs", json={"mode": "full"})
    response.raise_for_status()
    run_id = response.json()["id"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = client.get(f"/v1/detection/runs/{run_id}").json()
        if run.get("status") in ("done", "failed"):
            if run["status"] == "failed":
                raise RuntimeError(f"detection run {run_id} failed: {run}")
            return dict(run)
        time.sleep(2.0)
    raise TimeoutError(f"detection run {run_id} not done after {timeout_s:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="running service (default: start one on a temporary SQLite database)")
    parser.add_argument("--key", help="admin key for --url")
    parser.add_argument("--corpus", type=Path, default=DEV_CORPUS)
    parser.add_argument("--ipdata", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--days", type=float, default=10.0)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="default")
    parser.add_argument("--config", type=Path, help="JSON overriding persona/campaign parameters")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "quality")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the detection run")
    args = parser.parse_args()
    if args.url and not args.key:
        parser.error("--url needs --key")
    corpus = args.corpus if args.corpus and args.corpus.is_dir() else None
    if corpus is None:
        print(f"no corpus at {args.corpus}: procedural prompts only")

    started = time.perf_counter()
    params = merge_params(PRESETS[args.preset], load_params(args.config) if args.config else {})
    config = SimulationConfig(
        seed=args.seed, scale=args.scale, days=args.days, corpus=corpus, ipdata=args.ipdata, params=params
    )
    population = simulate(config)
    population.write(args.out)
    print(f"simulated {len(population.accounts)} accounts, {len(population.events)} events "
          f"in {time.perf_counter() - started:.0f}s → {args.out}")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        service = None if args.url else LocalService(Path(tmp))
        url, key = (args.url, args.key) if service is None else (service.url, service.key)
        try:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=600.0) as client:
                started = time.perf_counter()
                accounts = post_all(client, "/v1/accounts", population.accounts)
                events = post_all(client, "/v1/events", population.events)
                ingest_s = time.perf_counter() - started
                print(f"ingested accounts {accounts} and events {events} in {ingest_s:.0f}s "
                      f"({len(population.events) / ingest_s:.0f} events/s)")  # fmt: skip
                started = time.perf_counter()
                run = run_detection(client, timeout_s=args.timeout)
                print(f"full detection run {run['id']} done in {time.perf_counter() - started:.0f}s: "
                      f"{orjson.dumps(run.get('stats', {})).decode()[:300]}")  # fmt: skip
            scores = fetch_scores(url, key)
            # kept so the run can be re-evaluated offline: distillguard evaluate --truth … --scores scores.json
            records = [vars(s) for s in scores.values()]
            (args.out / "scores.json").write_bytes(orjson.dumps(records))
        finally:
            if service is not None:
                service.stop()

    evaluation = evaluate(population.truth, load_event_frame(args.out / "events.ndjson"), scores)
    terminal_table(evaluation)
    write_json(evaluation, args.out / "evaluation.json")
    write_html(evaluation, args.out / "evaluation.html", title=f"distillguard quality (seed {args.seed})")
    print(f"wrote {args.out / 'evaluation.json'} and {args.out / 'evaluation.html'}")


if __name__ == "__main__":
    main()
