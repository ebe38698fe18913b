"""Benchmark: every per-account feature for ~1M events / ~20k accounts (target: 45 s, 4 GB peak RSS, 2 cores).

    .venv/bin/python bench/features.py                      # simulate (cached), then measure
    .venv/bin/python bench/features.py --ipdata ../shared/ipdata --scale 10 --days 2.5

The event frame is built once by the simulator in a child process and cached as Parquet
(``var/bench/``), so the measured process only pays for loading it; the figures are the
feature computation alone, split per extractor (map step, finalize step) plus the topic
model fit and the IP-data load, with the total CPU time next to the wall time.  Peak RSS
is the measured process's own high-water mark (the simulator's memory is not counted).
An incremental update of the newest 5% of events onto a state holding the rest is timed
as well.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "2")  # the target machine has 2 cores

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.features import FeatureState, fit_extractors  # noqa: E402
from detectors.ipintel import IPIntel  # noqa: E402


def generate(cache: Path, *, scale: float, days: float, seed: int, retention: str) -> None:
    from app.simulation import SimulationConfig, simulate
    from detectors.events import account_frame, to_event_frame

    started = time.perf_counter()
    population = simulate(SimulationConfig(seed=seed, scale=scale, days=days))
    events = to_event_frame(population.events, retention)  # type: ignore[arg-type]
    accounts = account_frame(population.accounts)
    cache.parent.mkdir(parents=True, exist_ok=True)
    events.to_parquet(_path(cache, "events"))
    accounts.to_parquet(_path(cache, "accounts"))
    print(f"generated {len(events):,} events in {time.perf_counter() - started:.0f} s -> {cache}", file=sys.stderr)


def _path(cache: Path, kind: str) -> Path:
    return cache.with_name(f"{cache.name}.{kind}.parquet")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(events: pd.DataFrame, accounts: pd.DataFrame, ipdata: Path | None) -> dict[str, Any]:
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def cpu_lap(name: str, since: float) -> float:
        now = time.process_time()
        cpu[name] = now - since
        return now

    cpu_mark = cpu_started = time.process_time()
    started = time.perf_counter()
    intel = IPIntel.from_directory(ipdata) if ipdata else IPIntel.empty()
    timings["ip data load"] = time.perf_counter() - started
    cpu_mark = cpu_lap("ip data load", cpu_mark)
    mark = time.perf_counter()
    extractors = fit_extractors(events, accounts, ip_intel=intel)
    timings["topic model fit"] = time.perf_counter() - mark
    cpu_mark = cpu_lap("topic model fit", cpu_mark)
    state = FeatureState.start(extractors=extractors).update(events, timings=timings)
    cpu_mark = cpu_lap("state update (all map steps + merge)", cpu_mark)
    features = state.features(accounts, timings=timings)
    cpu_lap("features (all finalize steps)", cpu_mark)
    timings["total"] = time.perf_counter() - started
    # on a shared machine wall time includes waiting for a core; CPU time (all threads) does not
    cpu["total"] = time.process_time() - cpu_started

    cut = events["ts"].quantile(0.95)
    older, newer = events[events["ts"] <= cut], events[events["ts"] > cut]
    base = FeatureState.start(extractors=extractors).update(older)
    mark, cpu_mark = time.perf_counter(), time.process_time()
    base.update(newer).features(accounts)
    label = f"incremental: add the newest {len(newer):,} events + features"
    timings[label] = time.perf_counter() - mark
    cpu[label] = time.process_time() - cpu_mark
    result: dict[str, Any] = {"wall_seconds": {k: round(v, 2) for k, v in timings.items()},
                              "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
                              "accounts": len(features), "features": features.shape[1]}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--days", type=float, default=2.5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--retention", default="hashed", choices=["full", "hashed", "none"])
    parser.add_argument("--ipdata", type=Path, default=ROOT.parent / "shared" / "ipdata")
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "bench" / "features")
    parser.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cache = args.cache.with_name(f"{args.cache.name}-s{args.scale}-d{args.days}-{args.seed}-{args.retention}")
    if args.generate_only:
        generate(cache, scale=args.scale, days=args.days, seed=args.seed, retention=args.retention)
        return
    if not _path(cache, "events").exists():
        subprocess.run([sys.executable, __file__, "--generate-only", "--scale", str(args.scale), "--days",
                        str(args.days), "--seed", str(args.seed), "--retention", args.retention,
                        "--cache", str(args.cache)], check=True)
    events = pd.read_parquet(_path(cache, "events"))
    accounts = pd.read_parquet(_path(cache, "accounts"))
    rss_before = peak_rss_mb()
    ipdata = args.ipdata if args.ipdata.is_dir() else None
    result = measure(events, accounts, ipdata)
    print(json.dumps({"events": len(events), "accounts_with_events": result.pop("accounts"),
                      "feature_columns": result.pop("features"), "retention": args.retention,
                      "ipdata": str(ipdata) if ipdata else None, **result,
                      "peak_rss_mb_after_load": round(rss_before), "peak_rss_mb": round(peak_rss_mb())}, indent=2))


if __name__ == "__main__":
    main()
