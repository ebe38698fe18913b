"""Where simulated requests come from: IP address pools and client software (user agent + TLS).

Default (synthetic) address ranges, chosen inside real allocations of the kind they stand for,
so that an IP-reputation lookup on real data classifies them the same way:

* residential, per country: e.g. US 73.0.0.0/8 and 98.192.0.0/10 (cable), DE 79.192.0.0/10, GB 86.128.0.0/10,
  FR 90.0.0.0/11, IN 49.32.0.0/14, JP 126.0.0.0/12 … (:data:`RESIDENTIAL`); IPv6 home prefixes in
  2601::/20 and 2003::/19 for some users, whose address changes inside their /64 (privacy extensions);
* mobile carrier-grade NAT: a handful of public addresses per carrier (172.56.0.0/14, 49.40.0.0/14,
  182.248.0.0/14, 114.120.0.0/13, 197.210.0.0/16), each shared by hundreds of unrelated subscribers;
* cloud: 3.80.0.0/12, 100.20.0.0/14, 34.64.0.0/11, 35.184.0.0/13, 20.40.0.0/14, 40.76.0.0/15,
  159.65.0.0/16, 167.99.0.0/16, 139.59.0.0/16, 5.9.0.0/16, 51.75.0.0/16.

With an IP-data directory (``../shared/ipdata`` layout), cloud addresses come from
``cloud_provider_ranges/*_ipv4_merged.txt`` and residential/mobile ones from ``ip2asn`` ranges
whose ASN is in no datacenter list.  Residential proxy pools draw from the same residential
space as ordinary users (proxy exits are real people's devices).
"""

from __future__ import annotations

import ipaddress
import lzma
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.simulation.draw import pick, weighted
from detectors.text import stable_hash

RESIDENTIAL: dict[str, tuple[str, ...]] = {
    "US": ("73.0.0.0/8", "98.192.0.0/10", "24.0.0.0/12"), "GB": ("86.128.0.0/10", "81.96.0.0/12"),
    "DE": ("79.192.0.0/10", "84.128.0.0/10"), "FR": ("90.0.0.0/11",), "IN": ("49.32.0.0/14",),
    "BR": ("187.10.0.0/15",), "JP": ("126.0.0.0/12",), "KR": ("110.10.0.0/16",),
    "AU": ("1.128.0.0/11", "124.168.0.0/16"),
    "ES": ("79.144.0.0/12",), "IT": ("93.32.0.0/11",), "PL": ("83.8.0.0/13",), "MX": ("189.200.0.0/17",),
    "NG": ("197.210.0.0/17",), "ID": ("36.80.0.0/12",), "TR": ("88.230.0.0/15",), "VN": ("14.160.0.0/11",),
}  # fmt: skip
RESIDENTIAL_V6 = ("2601::/20", "2003::/19")
MOBILE_CARRIERS: dict[str, tuple[str, str]] = {
    "US": ("tmobile-us", "172.56.0.0/14"), "IN": ("jio-mobile", "49.40.0.0/14"),
    "JP": ("kddi-mobile", "182.248.0.0/14"),
    "ID": ("telkomsel", "114.120.0.0/13"), "NG": ("mtn-ng", "197.210.128.0/17"),
}  # fmt: skip
CLOUD: dict[str, tuple[str, ...]] = {
    "aws": ("3.80.0.0/12", "100.20.0.0/14"), "gcp": ("34.64.0.0/11", "35.184.0.0/13"),
    "azure": ("20.40.0.0/14", "40.76.0.0/15"), "digitalocean": ("159.65.0.0/16", "167.99.0.0/16", "139.59.0.0/16"),
    "hetzner": ("5.9.0.0/16",), "ovh": ("51.75.0.0/16",),
}  # fmt: skip
CGNAT_IPS_PER_CARRIER = 2

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _nets(cidrs: tuple[str, ...] | list[str]) -> list[Network]:
    return [ipaddress.ip_network(c) for c in cidrs]


class IpSpace:
    """Draws addresses: never the same one twice unless asked to share."""

    def __init__(self, rng: np.random.Generator, ipdata: Path | None = None) -> None:
        self.used: set[str] = set()
        self.residential = {c: _nets(r) for c, r in RESIDENTIAL.items()}
        self.cloud = {p: _nets(r) for p, r in CLOUD.items()}
        self.mobile = {c: _nets([cidr]) for c, (_, cidr) in MOBILE_CARRIERS.items()}
        self.v6 = _nets(list(RESIDENTIAL_V6))
        if ipdata is not None:
            self._load_ipdata(Path(ipdata))
        self.cgnat = {
            c: [self._fresh(rng, nets) for _ in range(CGNAT_IPS_PER_CARRIER)] for c, nets in self.mobile.items()
        }

    def _load_ipdata(self, root: Path) -> None:
        cloud: dict[str, list[Network]] = {}
        for name in ("amazon", "google", "microsoft", "digitalocean", "linode", "vultr", "oracle"):
            path = root / "cloud_provider_ranges" / f"{name}_ipv4_merged.txt"
            if path.exists():
                nets = [ipaddress.ip_network(x.strip()) for x in path.read_text().split() if x.strip()]
                cloud[name] = [n for n in nets if n.num_addresses >= 256]
        if cloud:
            self.cloud = cloud
        residential, mobile = _eyeball_ranges(root)
        if residential:
            # ip2asn has no country column: every country draws from the same eyeball space
            self.residential = dict.fromkeys(self.residential, residential)
        if mobile:
            self.mobile = dict.fromkeys(self.mobile, mobile)

    def _fresh(self, rng: np.random.Generator, nets: list[Network]) -> str:
        for _ in range(50):
            net = pick(rng, nets)
            offset = 1 + int(rng.random() * (min(net.num_addresses, 1 << 62) - 2))
            address = str(net.network_address + offset)
            if address not in self.used:
                self.used.add(address)
                return address
        raise RuntimeError("address pool exhausted")

    def residential_ip(self, rng: np.random.Generator, country: str) -> str:
        return self._fresh(rng, self.residential.get(country) or self.residential["US"])

    def residential_v6_prefix(self, rng: np.random.Generator) -> str:
        """A home /64 (as its first 4 hextets); see :meth:`v6_in`."""
        address = ipaddress.ip_address(self._fresh(rng, self.v6))
        return ":".join(address.exploded.split(":")[:4])

    def v6_in(self, rng: np.random.Generator, prefix: str) -> str:
        suffix = ":".join(f"{int(x):x}" for x in rng.integers(0, 65536, size=4))
        return str(ipaddress.ip_address(f"{prefix}:{suffix}"))

    def cloud_ip(self, rng: np.random.Generator, provider: str | None = None) -> str:
        provider = provider or self.cloud_provider(rng)
        return self._fresh(rng, self.cloud[provider])

    def cloud_provider(self, rng: np.random.Generator) -> str:
        return str(pick(rng, sorted(self.cloud)))

    def cgnat_pool(self, country: str) -> tuple[str, list[str]] | None:
        """(carrier name, its few shared public addresses) for countries whose carrier uses CGNAT."""
        if country not in self.cgnat:
            return None
        return MOBILE_CARRIERS[country][0], self.cgnat[country]

    def proxy_pool(self, rng: np.random.Generator, size: int, countries: list[str]) -> list[str]:
        return [self.residential_ip(rng, pick(rng, countries)) for _ in range(size)]


_HOSTING_WORDS = re.compile(r"host|cloud|data ?cent|server|vps|colo|amazon|google|microsoft|digitalocean", re.I)
_MOBILE_WORDS = re.compile(r"mobile|wireless|cellular|mobil", re.I)


def _eyeball_ranges(root: Path) -> tuple[list[Network], list[Network]]:
    """ip2asn ranges of access networks: ASN in no hosting list, name not a hosting company."""
    path = root / "ip2asn" / "asn-ipv4.csv.xz"
    if not path.exists():
        return [], []
    hosting: set[str] = set()
    for listing in (root / "x4bnet_lists_vpn" / "datacenter_asns.txt", root / "x4bnet_lists_vpn" / "vpn_asns.txt"):
        if listing.exists():
            hosting.update(m.group(1) for m in re.finditer(r"AS(\d+)", listing.read_text()))
    bad = root / "bad_asn_list.csv"
    if bad.exists():
        hosting.update(line.split(",", 1)[0].strip() for line in bad.read_text().splitlines()[1:])
    residential: list[Network] = []
    mobile: list[Network] = []
    with lzma.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            start, end, asn, org = line.rstrip("\n").split(",", 3)
            if asn in hosting or _HOSTING_WORDS.search(org):
                continue
            low, high = int(ipaddress.IPv4Address(start)), int(ipaddress.IPv4Address(end))
            if high - low < 4095:  # ISP-sized blocks only
                continue
            net = next(ipaddress.summarize_address_range(ipaddress.IPv4Address(low), ipaddress.IPv4Address(high)))
            (mobile if _MOBILE_WORDS.search(org) else residential).append(net)
    return residential, mobile


@dataclass(frozen=True)
class Client:
    """One piece of client software: what its requests say about themselves."""

    family: str
    user_agent: str
    tls_fingerprint: str
    stream_prob: float


def _ja4(family: str) -> str:
    digest = stable_hash(family, nbytes=12)
    return f"t13d{15 + len(family) % 4}{10 + len(family) % 7}h2_{digest[:12]}_{digest[12:]}"


_CLIENT_FAMILIES: dict[str, tuple[tuple[str, ...], str, float]] = {
    # family: (user-agent variants, TLS stack, probability of streaming)
    "openai-python": (tuple(f"OpenAI/Python 1.{m}.{p}" for m, p in ((40, 0), (45, 1), (51, 2), (54, 4), (58, 1),
                                                                        (61, 0))), "python", 0.2),
    "async-python": (tuple(f"AsyncOpenAI/Python 1.{m}.0" for m in (47, 52, 55, 59)), "python", 0.3),
    "openai-node": (tuple(f"OpenAI/JS 4.{m}.{p}" for m, p in ((52, 7), (67, 3), (71, 2), (77, 0))), "node", 0.5),
    "httpx": (("python-httpx/0.25.2", "python-httpx/0.27.0", "python-httpx/0.27.2", "python-httpx/0.28.1"),
              "python", 0.1),
    "requests": (("python-requests/2.28.2", "python-requests/2.31.0", "python-requests/2.32.3"), "python", 0.0),
    "curl": (("curl/7.81.0", "curl/8.5.0", "curl/8.7.1"), "curl", 0.0),
    "go": (("Go-http-client/2.0", "Go-http-client/1.1"), "go", 0.1),
    "axios": (("axios/1.6.8", "axios/1.7.7"), "node", 0.2),
    "chrome": (tuple(f"Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"
                     for os in ("Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X 10_15_7", "X11; Linux x86_64")
                     for v in (128, 129, 130)), "chrome", 0.95),
    "firefox": (tuple(f"Mozilla/5.0 ({os}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"
                      for os in ("Windows NT 10.0; Win64; x64", "X11; Linux x86_64") for v in (130, 131)),
                "firefox", 0.95),
    "safari": (("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                "Version/18.0 Safari/605.1.15",), "safari", 0.95),
    "ios-app": (tuple(f"ChatPad/{v} (iPhone; iOS 18.{m}; Scale/3.00)" for v in ("3.2.1", "3.3.0") for m in (0, 1)),
                "ios", 0.9),
    "android-app": (tuple(f"ChatPad/{v} (Android 14; Pixel {p})" for v in ("3.2.0", "3.3.0") for p in (7, 8)),
                    "android", 0.9),
    "ide-agent": (("Continue/0.9.228 VSCode/1.94.2", "Cline/3.1.0", "Cline/3.2.4", "aider/0.66.0 litellm/1.52.0"),
                  "node", 0.9),
}  # fmt: skip

CLIENT_MIXES: dict[str, dict[str, float]] = {
    "desktop": {"chrome": 0.3, "firefox": 0.08, "safari": 0.08, "openai-python": 0.2, "async-python": 0.05,
                "openai-node": 0.1, "curl": 0.04, "httpx": 0.08, "requests": 0.07},
    "mobile": {"ios-app": 0.55, "android-app": 0.45},
    "server": {"openai-python": 0.35, "openai-node": 0.2, "httpx": 0.15, "requests": 0.1, "go": 0.1, "axios": 0.1},
    "script": {"openai-python": 0.4, "async-python": 0.25, "httpx": 0.15, "requests": 0.2},
    "agent": {"ide-agent": 0.8, "openai-python": 0.1, "openai-node": 0.1},
}  # fmt: skip


def client(rng: np.random.Generator, mix: str | dict[str, float]) -> Client:
    family = weighted(rng, CLIENT_MIXES[mix] if isinstance(mix, str) else mix)
    agents, stack, stream = _CLIENT_FAMILIES[family]
    return Client(family, str(pick(rng, agents)), _ja4(stack), stream)
