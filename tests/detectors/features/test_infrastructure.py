"""Infrastructure features with a miniature IP-data directory."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from detectors.features import InfrastructureFeatures
from detectors.ipintel import IPIntel
from tests.detectors.features.factory import accounts, at, event, frame, write_ipdata


@pytest.fixture(scope="module")
def intel(tmp_path_factory: pytest.TempPathFactory) -> IPIntel:
    return IPIntel.from_directory(write_ipdata(tmp_path_factory.mktemp("ipdata")))


def features(events: list[dict[str, Any]], intel: IPIntel | None = None,
             meta: pd.DataFrame | None = None) -> pd.DataFrame:
    data = frame(events, "hashed")
    return InfrastructureFeatures(ip_intel=intel).fit(data, meta).transform(data, meta)


def test_network_kind_shares(intel: IPIntel) -> None:
    ips = ["192.0.2.10", "192.0.2.130", "198.51.100.7", "203.0.113.70", "100.64.0.1", "8.8.8.8", None]
    out = features([event("a", at(i), ip=ip) for i, ip in enumerate(ips)], intel)
    classified = 5  # 8.8.8.8 is unknown, one event has no IP
    assert out.loc["a", "hosting_traffic_share"] == pytest.approx(4 / classified)
    assert out.loc["a", "vpn_traffic_share"] == pytest.approx(1 / classified)
    assert out.loc["a", "cloud_traffic_share"] == pytest.approx(1 / classified)
    assert out.loc["a", "datacenter_traffic_share"] == pytest.approx(1 / classified)
    assert out.loc["a", "relay_traffic_share"] == pytest.approx(1 / classified)


def test_without_ip_data_kind_shares_are_nan_but_the_rest_works() -> None:
    out = features([event("a", at(i), ip=f"192.0.2.{i}") for i in range(4)])
    assert math.isnan(out.loc["a", "hosting_traffic_share"])
    assert math.isnan(out.loc["a", "asn_distinct_per_day"])
    assert out.loc["a", "ip_distinct_per_day"] == 4


def test_distinct_addresses_per_day_and_churn(intel: IPIntel) -> None:
    rotating = [event("proxy", at(i, days=d), ip=f"192.0.2.{d * 50 + i}") for d in range(2) for i in range(10)]
    home = [event("home", at(i, days=d), ip="192.0.2.200") for d in range(2) for i in range(10)]
    subnets = [event("spread", at(i), ip=ip) for i, ip in enumerate(["192.0.2.1", "198.51.100.1", "203.0.113.1"])]
    out = features(rotating + home + subnets, intel)
    assert out.loc["proxy", "ip_distinct_per_day"] == 10
    assert out.loc["proxy", "ip_churn_rate"] == 1
    assert out.loc["proxy", "ip_single_use_share"] == 1
    assert out.loc["proxy", "subnet_distinct_per_day"] == 1
    assert out.loc["home", "ip_distinct_per_day"] == 1
    assert out.loc["home", "ip_churn_rate"] == pytest.approx(1 / 20)
    assert out.loc["home", "ip_single_use_share"] == 0
    assert out.loc["spread", "subnet_distinct_per_day"] == 3
    assert out.loc["spread", "asn_distinct_per_day"] == 3


def test_ip_sharing_is_weighted_by_rarity() -> None:
    events = [event(f"ring{i}", at(i), ip="192.0.2.7") for i in range(3)]  # 3 accounts: strong evidence
    events += [event(f"cgnat{i}", at(i), ip="203.0.113.200") for i in range(300)]  # a carrier NAT: weak
    events += [event("alone", at(0), ip="198.51.100.9")]
    events += [event("ring0", at(10), ip="192.0.2.99")]  # half of ring0's traffic is its own
    out = features(events)
    assert out.loc["ring1", "ip_sharing_rarity_weighted"] == pytest.approx(2 / 3)
    assert out.loc["ring0", "ip_sharing_rarity_weighted"] == pytest.approx(0.5 * 2 / 3)
    assert out.loc["cgnat0", "ip_sharing_rarity_weighted"] == pytest.approx(2 / 300)
    assert out.loc["alone", "ip_sharing_rarity_weighted"] == 0
    assert out.loc["cgnat0", "ip_shared_traffic_share"] == 1
    assert out.loc["ring0", "ip_shared_traffic_share"] == pytest.approx(0.5)
    assert out.loc["ring1", "subnet_sharing_rarity_weighted"] == pytest.approx(2 / 3)


def test_country_mismatch_where_the_asn_gives_a_country(intel: IPIntel) -> None:
    events = [event("abroad", at(0), ip="198.51.100.7"), event("abroad", at(1), ip="203.0.113.5"),
              event("home", at(0), ip="198.51.100.8"), event("nodata", at(0), ip="192.0.2.10"),
              event("nocountry", at(0), ip="198.51.100.7")]
    meta = accounts({"account_id": "abroad", "country": "US"}, {"account_id": "home", "country": "US"},
                    {"account_id": "nodata", "country": "US"})
    out = features(events, intel, meta)
    assert out.loc["abroad", "ip_country_mismatch_share"] == pytest.approx(1 / 2)  # the NL hosting ASN
    assert out.loc["home", "ip_country_mismatch_share"] == 0
    assert math.isnan(out.loc["nodata", "ip_country_mismatch_share"])  # the ASN has no country
    assert math.isnan(out.loc["nocountry", "ip_country_mismatch_share"])  # no billing country


def test_client_diversity() -> None:
    events = [event("rotator", at(i), user_agent=f"agent/{i % 4}", tls_fingerprint=f"t{i % 2}") for i in range(8)]
    events += [event("steady", at(i), user_agent="agent/1") for i in range(8)]
    out = features(events)
    assert out.loc["rotator", "user_agent_distinct_count"] == 4
    assert out.loc["rotator", "user_agent_entropy"] == pytest.approx(2.0)
    assert out.loc["rotator", "tls_fingerprint_distinct_count"] == 2
    assert out.loc["steady", "user_agent_entropy"] == 0
    assert math.isnan(out.loc["steady", "tls_fingerprint_distinct_count"])


def test_account_age_and_signup_channel() -> None:
    events = [event("new", at(days=2)), event("new", at(days=3)), event("old", at(0)), event("anon", at(0)),
              event("web2", at(0))]
    meta = accounts(
        {"account_id": "new", "created_at": at(days=1.5), "signup_channel": "api"},
        {"account_id": "old", "created_at": at(days=-100), "signup_channel": "web"},
        {"account_id": "web2", "signup_channel": "web"},
        {"account_id": "dormant1", "signup_channel": "api"},  # no events: not part of the active population
        {"account_id": "dormant2", "signup_channel": "api"},
    )
    out = features(events, meta=meta)
    assert out.loc["new", "account_age_days_at_first_request"] == pytest.approx(0.5)
    assert out.loc["old", "account_age_days_at_first_request"] == pytest.approx(100)
    assert math.isnan(out.loc["anon", "account_age_days_at_first_request"])
    assert out.loc["new", "signup_channel_account_share"] == pytest.approx(1 / 3)
    assert out.loc["old", "signup_channel_account_share"] == pytest.approx(2 / 3)
    assert math.isnan(out.loc["anon", "signup_channel_account_share"])


def test_ipv6_addresses_count_like_ipv4(tmp_path: Path) -> None:
    intel = IPIntel.from_directory(write_ipdata(tmp_path))
    events = [event("v6", at(i), ip=f"2001:db8:cafe::{i}") for i in range(4)]
    out = features(events, intel)
    assert out.loc["v6", "ip_distinct_per_day"] == 4
    assert out.loc["v6", "cloud_traffic_share"] == 1
    assert out.loc["v6", "subnet_distinct_per_day"] == 1
