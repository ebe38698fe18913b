"""Time the simulator at a given size and profile what each persona / archetype looks like.

    .venv/bin/python bench/simulate.py                     # scale 1.0, 10 days (the < 60 s target)
    .venv/bin/python bench/simulate.py --scale 0.2 --profile --corpus ../shared/corpora/dev

The profile shows, per persona, the single features on which hard negatives are meant to
overlap with campaigns (volume, cloud IPs, chain-of-thought, temperature 0, IP sharing, …).
"""

from __future__ import annotations

import argparse
import ipaddress
import tempfile
import time
from pathlib import Path

import pandas as pd

from app.simulation import SimulationConfig, simulate
from app.simulation.network import CLOUD
from detectors.events import to_event_frame

CLOUD_NETS = [ipaddress.ip_network(c) for cidrs in CLOUD.values() for c in cidrs]


def is_cloud(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    return any(address in net for net in CLOUD_NETS if net.version == address.version)


def profile(population: object, days: float) -> pd.DataFrame:
    truth = population.truth  # type: ignore[attr-defined]
    frame = to_event_frame(population.events, "hashed")  # type: ignore[attr-defined]
    frame["persona"] = frame["account_id"].map(truth["personas"])
    ips = frame["ip"].dropna().unique()
    cloud = {ip: is_cloud(ip) for ip in ips}
    frame["cloud"] = frame["ip"].map(cloud).fillna(False).astype(bool)
    sharing = frame[["account_id", "ip"]].dropna().drop_duplicates().groupby("ip").size()
    per_account = frame.groupby("account_id").agg(
        persona=("persona", "first"),
        per_day=("request_id", "size"),
        cloud=("cloud", "mean"),
        cot=("cot_score", lambda s: float((s >= 0.3).mean())),
        rubric=("rubric_score", lambda s: float((s >= 0.4).mean())),
        temp0=("temperature", lambda s: float((s.fillna(-1) == 0).mean())),
        multi_turn=("n_user_turns", lambda s: float((s > 1).mean())),
        distinct_ips=("ip", "nunique"),
        max_ip_sharing=("ip", lambda s: float(sharing.reindex(s.dropna().unique()).max())),
    )
    per_account["per_day"] /= days
    accounts = pd.DataFrame(population.accounts).set_index("account_id")  # type: ignore[attr-defined]
    card_sharing = accounts["payment_fingerprint"].map(accounts["payment_fingerprint"].value_counts())
    per_account["card_shared"] = card_sharing.reindex(per_account.index).fillna(0)
    table = per_account.groupby("persona").agg(
        accounts=("per_day", "size"),
        per_day_p50=("per_day", "median"),
        per_day_p90=("per_day", lambda s: s.quantile(0.9)),
        cloud=("cloud", "mean"),
        cot=("cot", "mean"),
        rubric=("rubric", "mean"),
        temp0=("temp0", "mean"),
        multi_turn=("multi_turn", "mean"),
        distinct_ips=("distinct_ips", "median"),
        ip_sharing_p50=("max_ip_sharing", "median"),
        card_shared_p50=("card_shared", "median"),
    )
    return table.round(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--days", type=float, default=10.0)
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--ipdata", type=Path)
    parser.add_argument("--profile", action="store_true", help="print per-persona single-feature profiles")
    args = parser.parse_args()
    config = SimulationConfig(seed=args.seed, scale=args.scale, days=args.days, corpus=args.corpus, ipdata=args.ipdata)
    started = time.perf_counter()
    population = simulate(config)
    simulated = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        paths = population.write(tmp)
        written = time.perf_counter() - started
        size_mb = paths["events"].stat().st_size / 1e6
    n_campaign = sum(c is not None for c in population.truth["accounts"].values())
    print(
        f"scale {args.scale}, {args.days} days: {len(population.accounts)} accounts ({n_campaign} in campaigns), "
        f"{len(population.events)} events; simulate {simulated:.1f}s + write {written:.1f}s "
        f"= {simulated + written:.1f}s; events.ndjson {size_mb:.0f} MB"
    )
    if args.profile:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(profile(population, args.days))


if __name__ == "__main__":
    main()
