"""IP intelligence from a miniature data directory built in tmp_path."""

from __future__ import annotations

import ipaddress
import pickle
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detectors.ipintel import NETWORK_KINDS, IPIntel, ip_key, parse_ips, subnet_label
from tests.detectors.features.factory import write_ipdata


@pytest.fixture(scope="module")
def intel(tmp_path_factory: pytest.TempPathFactory) -> IPIntel:
    return IPIntel.from_directory(write_ipdata(tmp_path_factory.mktemp("ipdata")))


def kinds(intel: IPIntel, ips: list[str | None]) -> list[object]:
    return [None if pd.isna(k) else k for k in intel.lookup(ips)["network_kind"]]


def test_network_kinds_and_precedence(intel: IPIntel) -> None:
    assert kinds(intel, [
        "192.0.2.10",      # residential ISP (known ASN, on no list)
        "192.0.2.130",     # VPN CIDR inside the residential ASN
        "198.51.100.7",    # cloud provider CIDR
        "198.51.100.201",  # crawler CIDR inside the cloud CIDR: the more specific kind wins
        "100.64.1.1",      # relay
        "203.0.113.5",     # hosting ASN from datacenter_asns.txt
        "203.0.113.70",    # datacenter CIDR
        "203.0.113.200",   # mobile carrier: residential
        "10.0.0.9",        # ipcat datacenter range, no ASN
        "8.8.8.8",         # outside every table
    ]) == ["residential", "vpn", "cloud", "crawler", "relay", "datacenter", "datacenter", "residential",
           "datacenter", "unknown"]


def test_asn_org_provider_and_country(intel: IPIntel) -> None:
    out = intel.lookup(["198.51.100.7", "203.0.113.5", "192.0.2.10"])
    assert out["asn"].tolist() == [64501, 64502, 64500]
    assert out["as_org"].tolist() == ["Example Cloud, Inc.", "Hosting Example", "Example Residential ISP"]
    assert out["provider"].tolist()[:2] == ["examplecloud", "Hosting Example"]
    assert out["as_country"].tolist()[:2] == ["US", "NL"]  # from the ASN lists' ", CC" suffixes
    assert pd.isna(out["as_country"].iloc[2])
    assert out["is_hosting"].tolist() == [True, True, False]


def test_ipv6_and_mapped_addresses(intel: IPIntel) -> None:
    out = intel.lookup(["2001:db8:cafe:1::5", "2001:db8:1::1", "::ffff:198.51.100.7", "2001:db9::1"])
    assert out["network_kind"].tolist() == ["cloud", "residential", "cloud", "unknown"]
    assert out["asn"].tolist()[:3] == [64510, 64510, 64501]
    assert out["ip_version"].tolist() == [6, 6, 4, 6]


def test_missing_and_invalid_addresses_are_null(intel: IPIntel) -> None:
    out = intel.lookup(pd.Series([None, "not an ip", "1.2.3", "256.1.1.1", "192.0.2.10"], index=[5, 6, 7, 8, 9]))
    assert list(out.index) == [5, 6, 7, 8, 9]
    assert out["network_kind"].isna().tolist() == [True, True, True, True, False]
    assert out["ip_version"].isna().tolist() == [True, True, True, True, False]


def test_subnets(intel: IPIntel) -> None:
    out = intel.lookup(["192.0.2.10", "192.0.2.200", "192.0.3.1", "2001:db8:1:2::1", "2001:db8:1:3::1"])
    ids = out["subnet_id"].tolist()
    assert ids[0] == ids[1] != ids[2]
    assert ids[3] == ids[4]
    assert subnet_label(ids[0]) == "192.0.2.0/24"
    assert subnet_label(ids[3]) == "2001:db8:1::/48"


def test_empty_intel_knows_nothing_but_still_parses() -> None:
    out = IPIntel.empty().lookup(["192.0.2.10", "2001:db8::1", None])
    assert out["network_kind"].tolist()[:2] == ["unknown", "unknown"]
    assert out["asn"].isna().all()
    assert out["subnet_id"].notna().tolist() == [True, True, False]


def test_missing_files_are_tolerated(tmp_path: Path) -> None:
    (tmp_path / "cloud_provider_ranges").mkdir()
    (tmp_path / "cloud_provider_ranges" / "examplecloud_ipv4_merged.txt").write_text("192.0.2.0/24\n")
    intel = IPIntel.from_directory(tmp_path)
    assert kinds(intel, ["192.0.2.1", "198.51.100.1"]) == ["cloud", "unknown"]
    assert kinds(IPIntel.from_directory(tmp_path / "does-not-exist"), ["192.0.2.1"]) == ["unknown"]


def test_lookup_is_deduplicated_and_consistent_for_many_addresses(intel: IPIntel) -> None:
    rng = random.Random(0)
    pool = [f"{rng.choice([192, 198, 203])}.{rng.choice([0, 51])}.{rng.choice([2, 100, 113])}.{rng.randrange(256)}"
            for _ in range(200)]
    many = [rng.choice(pool) for _ in range(20_000)]
    out = intel.lookup(many)
    distinct = sorted(set(many))
    single = dict(zip(distinct, intel.lookup(distinct)["network_kind"], strict=True))
    assert out["network_kind"].tolist() == [single[ip] for ip in many]


def test_vectorised_parser_agrees_with_ipaddress() -> None:
    rng = np.random.default_rng(1)
    texts: list[object] = [".".join(str(o) for o in rng.integers(0, 256, 4)) for _ in range(2000)]
    texts += ["1.2.3.4.5", "1..2.3", "a.b.c.d", "", None, "::1", "2001:db8::ff", "1.2.3.4 "]
    versions, keys = parse_ips(np.asarray(texts, dtype=object))
    for text, version, key in zip(texts, versions, keys, strict=True):
        expected = ip_key(text) if isinstance(text, str) else (0, 0)
        assert (int(version), int(key)) == expected, text
        if version == 4:
            assert int(key) == int(ipaddress.IPv4Address(str(text).strip()))


def test_pickles(intel: IPIntel) -> None:
    restored = pickle.loads(pickle.dumps(intel))
    ips = ["192.0.2.130", "198.51.100.201", "2001:db8:cafe::1"]
    pd.testing.assert_frame_equal(restored.lookup(ips), intel.lookup(ips))


def test_kind_categories_are_the_documented_ones(intel: IPIntel) -> None:
    assert list(intel.lookup(["192.0.2.1"])["network_kind"].cat.categories) == list(NETWORK_KINDS)
