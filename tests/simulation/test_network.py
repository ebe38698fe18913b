"""Address pools: documented synthetic ranges by default, an IP-data directory when given."""

from __future__ import annotations

import ipaddress
import lzma
from pathlib import Path

import numpy as np

from app.simulation import SimulationConfig, simulate
from app.simulation.network import CLOUD, MOBILE_CARRIERS, RESIDENTIAL, IpSpace, client


def _inside(ip: str, cidrs: tuple[str, ...] | list[str]) -> bool:
    address = ipaddress.ip_address(ip)
    return any(address in ipaddress.ip_network(c) for c in cidrs)


def test_synthetic_ranges_are_the_documented_ones() -> None:
    rng = np.random.default_rng(0)
    space = IpSpace(rng)
    assert all(_inside(space.residential_ip(rng, "DE"), RESIDENTIAL["DE"]) for _ in range(50))
    all_cloud = [c for cidrs in CLOUD.values() for c in cidrs]
    assert all(_inside(space.cloud_ip(rng), all_cloud) for _ in range(50))
    carrier, pool = space.cgnat_pool("US") or ("", [])
    assert carrier == MOBILE_CARRIERS["US"][0] and all(_inside(ip, [MOBILE_CARRIERS["US"][1]]) for ip in pool)
    assert space.cgnat_pool("FR") is None
    fresh = [space.residential_ip(rng, "US") for _ in range(2000)]
    assert len(set(fresh)) == len(fresh)


def test_ipv6_homes_keep_their_prefix_while_the_address_changes() -> None:
    rng = np.random.default_rng(1)
    space = IpSpace(rng)
    prefix = space.residential_v6_prefix(rng)
    addresses = {space.v6_in(rng, prefix) for _ in range(20)}
    assert len(addresses) == 20
    networks = {ipaddress.ip_network(f"{a}/64", strict=False) for a in addresses}
    assert len(networks) == 1


def test_clients_pair_user_agents_with_a_consistent_tls_stack() -> None:
    rng = np.random.default_rng(2)
    by_family: dict[str, set[str]] = {}
    for _ in range(300):
        c = client(rng, "desktop")
        by_family.setdefault(c.family, set()).add(c.tls_fingerprint)
    assert all(len(fingerprints) == 1 for fingerprints in by_family.values())
    assert len(by_family) >= 5


def _write_ipdata(root: Path) -> None:
    (root / "cloud_provider_ranges").mkdir(parents=True)
    (root / "cloud_provider_ranges" / "amazon_ipv4_merged.txt").write_text("198.51.100.0/24\n")
    (root / "ip2asn").mkdir()
    rows = [
        "203.0.113.0,203.0.113.255,64500,Tiny Hosting Ltd",  # too small and hosting
        "10.0.0.0,10.0.255.255,64501,Example Broadband Inc",  # an access ISP
        "10.1.0.0,10.1.255.255,64502,Example Mobile Networks",  # a mobile carrier
        "10.2.0.0,10.2.255.255,64503,Some VPS Provider",  # hosting by name
        "10.3.0.0,10.3.255.255,64504,Quiet Datacentre Co",  # hosting by ASN list
    ]
    with lzma.open(root / "ip2asn" / "asn-ipv4.csv.xz", "wt") as handle:
        handle.write("\n".join(rows) + "\n")
    (root / "x4bnet_lists_vpn").mkdir()
    (root / "x4bnet_lists_vpn" / "datacenter_asns.txt").write_text("AS64504 # quiet datacentre\n")
    (root / "bad_asn_list.csv").write_text("ASN,Entity\n64500,tiny\n")


def test_ipdata_directory_supplies_cloud_residential_and_mobile_ranges(tmp_path: Path) -> None:
    _write_ipdata(tmp_path / "ipdata")
    rng = np.random.default_rng(3)
    space = IpSpace(rng, tmp_path / "ipdata")
    assert all(_inside(space.cloud_ip(rng), ["198.51.100.0/24"]) for _ in range(20))
    assert all(_inside(space.residential_ip(rng, "JP"), ["10.0.0.0/16"]) for _ in range(20))
    assert all(_inside(ip, ["10.1.0.0/16"]) for pool in space.cgnat.values() for ip in pool)


def test_simulation_runs_on_an_ipdata_directory(tmp_path: Path) -> None:
    _write_ipdata(tmp_path / "ipdata")
    population = simulate(SimulationConfig(seed=1, scale=0.05, days=1, ipdata=tmp_path / "ipdata"))
    allowed = ["198.51.100.0/24", "10.0.0.0/16", "10.1.0.0/16"]
    v4 = [e["ip"] for e in population.events if ipaddress.ip_address(e["ip"]).version == 4]
    assert v4 and all(_inside(ip, allowed) for ip in v4)
