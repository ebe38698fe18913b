"""Benchmark: account graph + communities (and cluster features) as the population grows.

    .venv/bin/python bench/linking.py                       # 5k, 20k, 80k accounts, ~50 events each
    .venv/bin/python bench/linking.py --accounts 20000      # the target: 20k accounts / 1M events in < 30 s
    .venv/bin/python bench/linking.py --simulator 1.0       # a simulated population instead (slow to generate)

The synthetic population is generated with numpy straight into the event frame (generating a million events
through the simulator and the ingest path takes minutes and is not what is measured).  It has the shapes that
make linking expensive or wrong: carrier NAT pools shared by hundreds of accounts, corporate egress IPs with one
card, cloud NATs shared by batch and eval jobs, households, popular templates, common client builds, and
campaigns rotating through residential proxy pools with shared cards, sign-up bursts and scheduler ticks.

Run it on 2 cores (``taskset -c 0,1``) to measure the target configuration.

Measured (``taskset -c 0,1 .venv/bin/python bench/linking.py``, 2 cores, ~50 events per account, 5-day window;
wall seconds for graph + communities + cluster features, CPU seconds in brackets):

    accounts  events     edges    graph    communities  features  total          peak RSS (incl. the frames)
    5,000     250,000    18,949   1.24 s   0.17 s       0.34 s    1.75 s (1.73)  0.7 GB
    20,000    1,001,449  78,339   5.48 s   0.90 s       1.31 s    7.71 s (7.58)  1.4 GB
    80,000    4,000,937  294,407  25.7 s   5.25 s       7.97 s    38.9 s (36.3)  4.6 GB

The same command on 2026-11-28, after the request-shape and wrapper kinds were added and communities moved to
igraph's Leiden, on a machine about 2.8x slower (the code of the table above takes 21.8 s at 20,000 accounts
there: graph 14.5 s, communities 3.0 s, features 4.3 s):

    accounts  events     edges    graph    communities  features  total           peak RSS
    5,000     249,996    19,274   4.33 s   0.07 s       1.01 s    5.42 s (5.42)   0.8 GB
    20,000    1,001,449  79,629   17.4 s   0.49 s       4.87 s    22.8 s (22.7)   1.4 GB
    80,000    4,000,937  300,911  76.9 s   2.04 s       23.5 s    102.7 s (102.0) 4.7 GB

How it grows: about linearly in events (x4 accounts and events costs x4.4, then x5.0).  The graph stage is
dominated by MinHash over every prompt (linear in tokens, processed in chunks of 250k rows) and by sorting
pair keys (n log n in candidate pairs).  Pair generation is bounded per shared resource: a group of n accounts
yields n(n-1)/2 pairs only up to ``max_group_size`` (150), then about n * ``sparse_degree`` (6), so a carrier NAT
or a popular SDK cannot blow it up; behaviour kinds are scored only on identity candidates.  Leiden is near
linear in edges.  Where it breaks: memory first, at roughly 1 KB per event at peak (the event frame itself is
about half of it), i.e. around 15-20M events on a 23 GB machine; the sync stage compares at most 150 active
minutes per account and pair, so it grows with candidate pairs (a few per account), not with activity.
Beyond that the window should be cut (accounts are linked within a detection window) or the template index
sampled per account.
"""

from __future__ import annotations

import argparse
import resource
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from detectors.events import ACCOUNT_COLUMNS, EVENT_COLUMNS
from detectors.linking import link_accounts

T0 = 1_790_000_000
DAY = 86_400
DAYS = 5


@dataclass
class Population:
    events: pd.DataFrame
    accounts: pd.DataFrame
    truth: pd.Series  # account_id → campaign id or "" (benign)
    groups: pd.Series  # account_id → benign group (cgnat/corp/cloud) or ""


def _hex_tokens(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.array([f"{x:06x}" for x in rng.integers(0, 1 << 24, size=n)], dtype=object)


def _docs(rng: np.random.Generator, vocab: np.ndarray, n_docs: int, template: np.ndarray | None) -> np.ndarray:
    """Token-hash strings: free text from the vocabulary, or a template with a few slot words."""
    out = np.empty(n_docs, dtype=object)
    lengths = rng.integers(6, 30, size=n_docs)
    zipf = np.minimum(rng.zipf(1.3, size=int(lengths.sum())) - 1, len(vocab) - 1)
    words = vocab[zipf]
    start = 0
    for i, length in enumerate(lengths):
        body = words[start : start + length]
        start += length
        out[i] = " ".join(np.concatenate([template, body[:4]]) if template is not None else body)
    return out


def synthetic_population(n_accounts: int, events_per_account: float, seed: int = 0) -> Population:
    rng = np.random.default_rng(seed)
    ids = np.array([f"acct_{i:07d}" for i in range(n_accounts)], dtype=object)
    kind = rng.choice(["casual", "cgnat", "corp", "cloud", "campaign"], p=[0.72, 0.12, 0.08, 0.04, 0.04],
                      size=n_accounts)  # fmt: skip
    campaign = np.full(n_accounts, "", dtype=object)
    group = np.full(n_accounts, "", dtype=object)
    ip_pool: list[np.ndarray] = [np.empty(0, np.int64)] * n_accounts
    next_ip = 0

    def fresh(count: int) -> np.ndarray:
        nonlocal next_ip
        out = np.arange(next_ip, next_ip + count, dtype=np.int64)
        next_ip += count
        return out

    cards = np.array([f"pm_{i:08x}" for i in range(n_accounts)], dtype=object)
    created = T0 - rng.lognormal(np.log(150 * DAY), 1.0, size=n_accounts)
    email = rng.choice(["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me"], size=n_accounts)
    channel = rng.choice(["web", "oauth_google", "oauth_github"], size=n_accounts)
    org = np.full(n_accounts, None, dtype=object)
    tier = rng.choice(["free", "tier1", "tier2"], size=n_accounts)
    combos = rng.integers(0, 40, size=n_accounts)  # 40 common client builds
    rate = rng.lognormal(0, 1.0, size=n_accounts)
    ticks: dict[int, np.ndarray] = {}

    casual = np.flatnonzero(kind == "casual")
    for a in casual:
        ip_pool[a] = fresh(1)
    households = casual[rng.random(len(casual)) < 0.05]
    for a in households[1:]:
        ip_pool[a], cards[a] = ip_pool[a - 1] if kind[a - 1] == "casual" else ip_pool[a], cards[a - 1]
    carriers = [fresh(4) for _ in range(6)]
    for a in np.flatnonzero(kind == "cgnat"):
        carrier = int(rng.integers(0, len(carriers)))
        ip_pool[a], group[a] = carriers[carrier], f"cgnat{carrier}"
    corp = np.flatnonzero(kind == "corp")
    for k, members in enumerate(np.array_split(corp, max(1, len(corp) // 80))):
        egress, card = fresh(2), f"pm_corp{k}"
        for a in members:
            ip_pool[a], cards[a], group[a], org[a], tier[a] = egress, card, f"corp{k}", f"org_{k}", "enterprise"
            email[a], channel[a] = f"corp{k}.com", "sales"
    cloud = np.flatnonzero(kind == "cloud")
    for k, members in enumerate(np.array_split(cloud, max(1, len(cloud) // 40))):
        nat = fresh(3)
        for a in members:
            ip_pool[a], group[a], rate[a] = nat, f"cloud{k}", rate[a] * 5
    crews = np.array_split(np.flatnonzero(kind == "campaign"), max(1, int((kind == "campaign").sum()) // 50))
    for k, members in enumerate(crews):
        pool, crew_cards = fresh(int(rng.integers(300, 2000))), [f"pm_crew{k}_{c}" for c in range(6)]
        burst = T0 - DAY * rng.uniform(1, 3)
        ticks[k] = np.concatenate([T0 + d * DAY + 8 * 3600 + np.arange(0, 16 * 3600, 900) for d in range(DAYS)])
        for j, a in enumerate(members):
            ip_pool[a], cards[a], campaign[a] = pool, crew_cards[j % 6], f"crew{k}"
            created[a], combos[a], channel[a] = burst + rng.random() * 6 * 3600, 1000 + k, "web"

    counts = rng.poisson(events_per_account * rate / rate.mean())
    owner = np.repeat(np.arange(n_accounts), counts)
    n_events = len(owner)
    ts = T0 + rng.random(n_events) * DAYS * DAY
    for k, members in enumerate(crews):
        mask = np.isin(owner, members)
        ts[mask] = rng.choice(ticks[k], size=int(mask.sum())) + np.abs(rng.normal(0, 120, size=int(mask.sum())))
    sizes = np.array([len(p) for p in ip_pool])
    flat = np.concatenate(ip_pool)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pick = (rng.random(n_events) * sizes[owner]).astype(np.int64)
    ip_codes = flat[offsets[owner] + pick]
    ip_text = np.array([f"{10 + (i >> 16) % 200}.{(i >> 8) & 255}.{i & 255}.{7 + (i * 31) % 240}"
                        for i in range(next_ip)], dtype=object)  # fmt: skip

    vocab = _hex_tokens(rng, 20_000)
    # benign prompts are the account's own (with some repeats), apart from a few popular templates
    popular = [_hex_tokens(rng, 12) for _ in range(30)]
    crew_templates = {k: [_hex_tokens(rng, 14) for _ in range(3)] for k in range(len(crews))}
    own = _docs(rng, vocab, n_events, None)
    repeat = rng.random(n_events) < 0.3
    previous = np.maximum(np.arange(n_events) - 1, 0)
    same_account = owner[previous] == owner
    doc = np.where(repeat & same_account, own[previous], own)
    templated = rng.random(n_events) < 0.1
    for t in range(len(popular)):
        chosen = templated & (rng.integers(0, len(popular), size=n_events) == t)
        doc[chosen] = _docs(rng, vocab, int(chosen.sum()), popular[t])
    for k, members in enumerate(crews):
        mask = np.flatnonzero(np.isin(owner, members) & (rng.random(n_events) < 0.85))
        which = rng.integers(0, 3, size=len(mask))
        for t in range(3):
            rows = mask[which == t]
            doc[rows] = _docs(rng, vocab, len(rows), crew_templates[k][t])

    release = T0 + 3 * DAY
    adopt = np.where(rng.random(n_accounts) < 0.5, release + rng.exponential(2.5 * DAY, size=n_accounts), np.inf)
    for members in crews:
        adopt[members] = release + rng.uniform(0.5, 4) * 3600
    model = np.where(ts >= adopt[owner], "frontier-2", "frontier-1")
    combo = combos[owner]
    events = pd.DataFrame(
        {
            "request_id": np.char.add("r", np.arange(n_events).astype(str)),
            "account_id": ids[owner],
            "ts": pd.to_datetime(ts, unit="s", utc=True),
            "ip": ip_text[ip_codes],
            "user_agent": np.char.add("client/", combo.astype(str)),
            "tls_fingerprint": np.char.add("t13d_", (combo % 7).astype(str)),
            "model": model,
            "token_hashes": doc,
        }
    )
    for column, dtype in EVENT_COLUMNS.items():
        if column not in events:
            events[column] = pd.Series(pd.NA, index=events.index, dtype=dtype)
        elif column != "ts":
            events[column] = events[column].astype(dtype)
    accounts = pd.DataFrame(
        {
            "created_at": pd.to_datetime(created, unit="s", utc=True),
            "email_domain": email,
            "payment_fingerprint": cards,
            "country": "US",
            "signup_channel": channel,
            "org_id": org,
            "tier": tier,
        },
        index=pd.Index(ids, name="account_id"),
    ).astype({c: ACCOUNT_COLUMNS[c] for c in ACCOUNT_COLUMNS if c not in ("account_id", "created_at")})
    return Population(events, accounts, pd.Series(campaign, index=ids), pd.Series(group, index=ids))


def quality(linking_clusters: pd.Series, truth: pd.Series, groups: pd.Series) -> dict[str, float]:
    recalls = []
    for crew in sorted(set(truth) - {""}):
        members = linking_clusters[truth.index[truth == crew]]
        recalls.append(members.value_counts().iloc[0] / len(members))
    purities, merged_groups = [], 0
    sizes = linking_clusters.value_counts()
    for label in sizes[sizes >= 2].index:
        members = linking_clusters.index[linking_clusters == label]
        labels = truth[members]
        if (labels != "").any():
            purities.append(labels.value_counts().iloc[0] / len(labels))
            merged_groups += int((groups[members] != "").any())
    return {
        "min_campaign_recall": min(recalls) if recalls else float("nan"),
        "min_purity": min(purities) if purities else float("nan"),
        "campaign_clusters_with_benign_groups": merged_groups,
    }


def run(population: Population, label: str) -> None:
    started, started_cpu = time.perf_counter(), time.process_time()
    linking = link_accounts(population.events, population.accounts)
    total, total_cpu = time.perf_counter() - started, time.process_time() - started_cpu
    seconds, cpu = linking.stats["seconds"], linking.stats["cpu_seconds"]
    score = quality(linking.clusters["cluster_label"], population.truth.reindex(linking.clusters.index).fillna(""),
                    population.groups.reindex(linking.clusters.index).fillna(""))  # fmt: skip
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{label:>22} accounts={len(population.accounts):>6} events={len(population.events):>8} "
        f"edges={len(linking.edges):>7} graph={seconds['graph']:6.2f}s communities={seconds['communities']:5.2f}s "
        f"features={seconds['features']:5.2f}s total={total:6.2f}s (cpu: graph={cpu['graph']:.2f}s "
        f"communities={cpu['communities']:.2f}s features={cpu['features']:.2f}s total={total_cpu:.2f}s) "
        f"peak_rss={peak_mb:,.0f}MB "
        f"recall>={score['min_campaign_recall']:.2f} purity>={score['min_purity']:.2f} "
        f"merged_groups={score['campaign_clusters_with_benign_groups']}",
        flush=True,
    )


def simulated(scale: float, days: float) -> Population:
    from app.simulation import SimulationConfig, simulate
    from detectors.events import account_frame, to_event_frame

    pop = simulate(SimulationConfig(seed=1, scale=scale, days=days))
    events, accounts = to_event_frame(pop.events, "hashed"), account_frame(pop.accounts)
    truth = pd.Series({a: c or "" for a, c in pop.truth["accounts"].items()})
    groups = pd.Series({a: g or "" for a, g in pop.truth["groups"].items()})
    return Population(events, accounts, truth, groups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, nargs="+", default=[5_000, 20_000, 80_000])
    parser.add_argument("--events-per-account", type=float, default=50.0)
    parser.add_argument("--simulator", type=float, metavar="SCALE", help="use app.simulation at this scale")
    parser.add_argument("--days", type=float, default=5.0, help="simulated days (with --simulator)")
    args = parser.parse_args()
    # first use of scipy.stats, pyarrow.compute and igraph costs seconds of imports: not part of the figure
    warm = synthetic_population(500, 10.0, seed=1)
    link_accounts(warm.events, warm.accounts)
    if args.simulator:
        run(simulated(args.simulator, args.days), f"simulator x{args.simulator}")
        return
    for n in args.accounts:
        started = time.perf_counter()
        population = synthetic_population(n, args.events_per_account)
        print(f"(generated {n:,} accounts in {time.perf_counter() - started:.1f}s)", flush=True)
        run(population, f"synthetic {n:,}")


if __name__ == "__main__":
    main()
