"""Tiny hand-built canonical events and populations for detector tests (no shared corpora)."""

from __future__ import annotations

import lzma
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from detectors.events import Retention, account_frame, to_event_frame

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday, 00:00 UTC


def at(seconds: float = 0.0, *, days: float = 0.0, hours: float = 0.0) -> str:
    """An RFC 3339 timestamp this long after T0."""
    return (T0 + timedelta(days=days, hours=hours, seconds=seconds)).isoformat()


_counter = 0


def event(account: str, ts: str | float, prompt: str | None = "hello there", **fields: Any) -> dict[str, Any]:
    """One canonical event; ``prompt`` becomes a single user message unless ``messages`` is given."""
    global _counter
    _counter += 1
    record: dict[str, Any] = {"request_id": f"r{_counter}", "account_id": account, "ts": ts}
    if "messages" not in fields and prompt is not None:
        record["messages"] = [{"role": "user", "content": prompt}]
    record.update(fields)
    return record


def frame(events: Iterable[dict[str, Any]], retention: Retention = "full") -> pd.DataFrame:
    return to_event_frame(list(events), retention)


def accounts(*records: dict[str, Any]) -> pd.DataFrame:
    return account_frame(records)


SUBJECTS = ["physics", "poetry", "cooking", "finance", "history", "biology", "music", "chess", "law", "geology",
            "astronomy", "painting", "football", "economics", "chemistry", "medicine"]
CODING = ["write a python function that parses {x} and handles every error",
          "debug this javascript code that renders {x} in the browser",
          "refactor the sql query that joins {x} tables in the database"]


def population(seed: int = 0, *, n_benign: int = 12, n_campaign: int = 6) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    """A small mixed population: chatty benign users and template-sweeping campaign accounts."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for i in range(n_benign):
        account = f"user{i:02d}"
        records.append({"account_id": account, "country": rng.choice(["US", "DE", "JP", None]),
                        "created_at": at(days=-rng.randint(1, 900)), "signup_channel": rng.choice(["web", "app"])})
        for j in range(rng.randint(1, 8)):
            subject = rng.choice(SUBJECTS[:6])
            events.append(event(account, at(days=rng.random() * 3, hours=9), f"tell me about {subject} please {j}",
                                ip=f"198.51.100.{i}", user_agent="Mozilla/5.0", model="m1", status=200,
                                prompt_tokens=20, completion_tokens=200, max_tokens=1024))
    for i in range(n_campaign):
        account = f"camp{i:02d}"
        records.append({"account_id": account, "country": "US", "created_at": at(days=-2), "signup_channel": "api"})
        for j in range(30):
            subject = SUBJECTS[(i * 30 + j) % len(SUBJECTS)]
            text = f"Articulate the reasoning behind {subject} question {j} step by step"
            if j % 3 == 0:
                text = rng.choice(CODING).format(x=subject)
            events.append(event(account, at(seconds=600 * j + i, days=1.5), text, ip=f"203.0.113.{(i + j) % 40}",
                                user_agent=f"python-httpx/0.{j % 3}", model="m2" if j > 20 else "m1", n=2,
                                temperature=1.0, tools=1 if j % 5 == 0 else None, status=429 if j % 10 == 0 else 200,
                                prompt_tokens=40, completion_tokens=1000, max_tokens=1000,
                                end_user_id=f"{account}-user{j // 25}" if i % 2 == 0 else None))
    return events, account_frame(records)


def write_ipdata(root: Path) -> Path:
    """A miniature ../shared/ipdata layout (documentation and private ranges only) in ``root``."""
    (root / "ip2asn").mkdir(parents=True)
    (root / "ip2asn" / "asn-ipv4.csv").write_text(
        "192.0.2.0,192.0.2.255,64500,Example Residential ISP\n"
        "198.51.100.0,198.51.100.255,64501,\"Example Cloud, Inc.\"\n"
        "203.0.113.0,203.0.113.127,64502,Hosting Example\n"
        "203.0.113.128,203.0.113.255,64503,Mobile Carrier\n"
        "100.64.0.0,100.127.255.255,64504,Relay Net\n"
    )
    with lzma.open(root / "ip2asn" / "asn-ipv6.csv.xz", "wt") as handle:
        handle.write("2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,64510,Example V6 ISP\n")
    (root / "cloud_provider_ranges").mkdir()
    (root / "cloud_provider_ranges" / "examplecloud_ipv4_merged.txt").write_text("198.51.100.0/25\n198.51.100.128/25\n")
    (root / "cloud_provider_ranges" / "apple-proxy_ipv4_merged.txt").write_text("100.64.0.0/10\n")
    (root / "cloud_provider_ranges" / "googlebot_ipv4_merged.txt").write_text("198.51.100.200/29\n")
    (root / "cloud_provider_ranges" / "examplecloud_ipv6_merged.txt").write_text("2001:db8:cafe::/48\n")
    (root / "x4bnet_lists_vpn").mkdir()
    (root / "x4bnet_lists_vpn" / "vpn_ipv4.txt").write_text("192.0.2.128/26\n")
    (root / "x4bnet_lists_vpn" / "datacenter_ipv4.txt").write_text("# comment line\n203.0.113.64/26\n")
    (root / "x4bnet_lists_vpn" / "datacenter_asns.txt").write_text("AS64502 # Hosting Example, NL\n")
    (root / "x4bnet_lists_vpn" / "vpn_asns.txt").write_text("AS64999 # Some VPN, SE\n")
    (root / "bad_asn_list.csv").write_text('ASN,Entity\n"64501","Example Cloud, Inc., US"\n')
    (root / "ipcat_datacenters.csv").write_text("10.0.0.0,10.0.0.255,Example DC,http://example.com/\n")
    return root
