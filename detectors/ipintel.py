"""IP intelligence: which network an address belongs to, from offline range lists.

Loaded from a directory laid out like ``../shared/ipdata`` (see its README); every file
is optional, so a partial directory (or :meth:`IPIntel.empty`) still works and simply
knows less:

* ``ip2asn/asn-ipv{4,6}.csv[.xz]`` - ``start_ip,end_ip,asn,org`` (a fifth column between
  asn and org, if present, is taken as the AS country: the iptoasn.com layout);
* ``cloud_provider_ranges/<provider>_ipv{4,6}_merged.txt`` - one CIDR per line;
* ``x4bnet_lists_vpn/{datacenter,vpn}_ipv{4,6}.txt`` and ``{datacenter,vpn}_asns.txt``;
* ``ipcat_datacenters.csv`` - ``start_ip,end_ip,provider,url``;
* ``bad_asn_list.csv`` - ``ASN,Entity`` hosting ASNs.

Lookups are vectorised: each list becomes sorted, disjoint integer intervals searched
with ``np.searchsorted``, once per distinct address.  IPv6 is keyed by its top 64 bits
(the /64 is one subscriber network), so the few published prefixes longer than /64 are
widened to their /64.

``network_kind`` is one of :data:`NETWORK_KINDS`.  Precedence when lists overlap:
crawler > relay > vpn > cloud > datacenter; an address with a known ASN that is on no
list is ``residential`` (really "eyeball or other"); without ASN data it is ``unknown``.
"""

from __future__ import annotations

import csv
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

NETWORK_KINDS: tuple[str, ...] = ("residential", "cloud", "datacenter", "vpn", "relay", "crawler", "unknown")
HOSTING_KINDS = frozenset({"cloud", "datacenter", "vpn", "relay", "crawler"})

# lord-alfred/ipranges provider folders: which are relays, VPNs or crawlers rather than clouds
PROVIDER_KINDS: dict[str, str] = {
    "apple-proxy": "relay",
    "protonvpn": "vpn",
    "googlebot": "crawler",
    "bing": "crawler",
    "duckduckbot": "crawler",
    "duckassistbot": "crawler",
    "openai": "crawler",
    "perplexity": "crawler",
    "pingdom": "crawler",
    "statuscake": "crawler",
}
_KIND_RANK = {"crawler": 5, "relay": 4, "vpn": 3, "cloud": 2, "datacenter": 1}
_U64 = np.uint64
_TOP64 = (1 << 64) - 1
_COUNTRY_SUFFIX = re.compile(r",\s*([A-Z]{2})\s*(\(.*\))?\s*$")

LOOKUP_COLUMNS: dict[str, str] = {
    "ip": "string",
    "ip_version": "Int8",
    "asn": "Int64",
    "as_org": "category",
    "as_country": "category",
    "network_kind": "category",  # categories: NETWORK_KINDS
    "provider": "category",
    "is_hosting": "boolean",
    "subnet_id": "Int64",  # /24 or /48 network as an integer; text via subnet_label()
}


def ip_key(text: str) -> tuple[int, int]:
    """(version, integer key) of an address; IPv6 keyed by its top 64 bits. (0, 0) if not an address."""
    text = text.strip().split("%", 1)[0]
    try:
        if ":" in text:
            value = int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
            if value >> 32 == 0xFFFF:  # IPv4-mapped
                return 4, value & 0xFFFFFFFF
            return 6, value >> 64
        if text.count(".") != 3:  # inet_aton also accepts shorthand like "10.1"
            return 0, 0
        return 4, int.from_bytes(socket.inet_aton(text), "big")
    except (OSError, ValueError):
        return 0, 0


def cidr_bounds(cidr: str) -> tuple[int, int, int] | None:
    """(version, first key, last key) of a CIDR or a bare address, in :func:`ip_key` space."""
    address, _, length_text = cidr.split("#", 1)[0].strip().partition("/")
    version, key = ip_key(address)
    if version == 0:
        return None
    width = 32 if version == 4 else 64
    full = 32 if version == 4 else 128
    try:
        length = int(length_text) if length_text else full
    except ValueError:
        return None
    length = min(max(length, 0), full)
    host_bits = max(width - length, 0)
    first = (key >> host_bits) << host_bits
    return version, first, first | ((1 << host_bits) - 1)


@dataclass
class _Ranges:
    """Sorted intervals [starts[i], ends[i]] labelled labels[i] (an index into a label list)."""

    starts: npt.NDArray[np.uint64] = field(default_factory=lambda: np.zeros(0, _U64))
    ends: npt.NDArray[np.uint64] = field(default_factory=lambda: np.zeros(0, _U64))
    labels: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))

    @classmethod
    def build(cls, starts: Any, ends: Any, labels: Any, *, merge: bool) -> _Ranges:
        s = np.asarray(starts, dtype=_U64)
        e = np.asarray(ends, dtype=_U64)
        lab = np.asarray(labels, dtype=np.int32)
        order = np.lexsort((e, s))
        s, e, lab = s[order], e[order], lab[order]
        if merge and len(s):
            # same-label overlapping/adjacent intervals collapse; a running max of ends finds the breaks
            running_end = np.maximum.accumulate(e)
            new_block = np.ones(len(s), dtype=bool)
            new_block[1:] = (s[1:] > running_end[:-1] + _U64(1)) | (running_end[:-1] == _U64(_TOP64))
            new_block[1:] |= lab[1:] != lab[:-1]
            block = np.cumsum(new_block) - 1
            first = np.flatnonzero(new_block)
            last_end = np.zeros(len(first), dtype=_U64)
            np.maximum.at(last_end, block, e)
            s, e, lab = s[first], last_end, lab[first]
        return cls(s, e, lab)

    def find(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.int32]:
        """Label of the interval holding each key, -1 where none (the last interval starting at or before it)."""
        if not len(self.starts) or not len(keys):
            return np.full(len(keys), -1, dtype=np.int32)
        idx = np.searchsorted(self.starts, keys, side="right") - 1
        safe = np.clip(idx, 0, None)
        hit = (idx >= 0) & (keys <= self.ends[safe])
        return np.where(hit, self.labels[safe], -1).astype(np.int32)


@dataclass
class _Family:
    """One IP version's tables."""

    asn: _Ranges = field(default_factory=_Ranges)
    asn_numbers: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    asn_orgs: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    asn_countries: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    kind_lists: list[tuple[str, _Ranges]] = field(default_factory=list)  # (kind, ranges labelled by provider id)


class IPIntel:
    """Immutable IP → network lookup tables (build with :meth:`from_directory` or :meth:`empty`)."""

    def __init__(self) -> None:
        self._families: dict[int, _Family] = {4: _Family(), 6: _Family()}
        self._providers: list[str] = []
        self._orgs: list[str] = []
        self._countries: list[str] = []
        self._interned: dict[tuple[int, str], int] = {}
        self._asn_kind: dict[int, tuple[str, str]] = {}  # asn → (kind, provider label)
        self._asn_country: dict[int, str] = {}
        # listed ASNs sorted, with their kind rank, provider code and country code (built after loading)
        self._asn_table: tuple[npt.NDArray[np.int64], npt.NDArray[np.int8], npt.NDArray[np.int32],
                               npt.NDArray[np.int32]] | None = None
        self.sources: list[str] = []

    @classmethod
    def empty(cls) -> IPIntel:
        return cls()

    @property
    def country_names(self) -> list[str]:
        """Country codes indexed by :attr:`Resolved.country`."""
        return list(self._countries)

    @property
    def has_asn_data(self) -> bool:
        return any(len(f.asn.starts) for f in self._families.values())

    @classmethod
    def from_directory(cls, path: str | Path) -> IPIntel:
        root = Path(path)
        intel = cls()
        for version in (4, 6):
            asn_file = _first_existing(root / "ip2asn", [f"asn-ipv{version}.csv.xz", f"asn-ipv{version}.csv"])
            if asn_file is not None:
                intel._load_asn(version, asn_file)
        cloud_dir = root / "cloud_provider_ranges"
        if cloud_dir.is_dir():
            for file in sorted(cloud_dir.glob("*_ipv*_merged.txt")):
                match = re.fullmatch(r"(.+)_ipv([46])_merged\.txt", file.name)
                if match:
                    provider = match.group(1)
                    intel._load_cidrs(file, PROVIDER_KINDS.get(provider, "cloud"), provider)
        vpn_dir = root / "x4bnet_lists_vpn"
        for kind in ("datacenter", "vpn"):
            for version in (4, 6):
                file = vpn_dir / f"{kind}_ipv{version}.txt"
                if file.is_file():
                    intel._load_cidrs(file, kind, f"x4bnet-{kind}")
            asn_list = vpn_dir / f"{kind}_asns.txt"
            if asn_list.is_file():
                intel._load_asn_list(asn_list, kind)
        if (root / "ipcat_datacenters.csv").is_file():
            intel._load_ipcat(root / "ipcat_datacenters.csv")
        if (root / "bad_asn_list.csv").is_file():
            intel._load_bad_asns(root / "bad_asn_list.csv")
        intel._build_asn_table()
        return intel

    # ---- loading -------------------------------------------------------------------------------
    def _intern(self, table: list[str], value: str) -> int:
        key = (id(table), value)
        code = self._interned.get(key)
        if code is None:
            code = self._interned[key] = len(table)
            table.append(value)
        return code

    def _provider_id(self, provider: str) -> int:
        return self._intern(self._providers, provider)

    def _build_asn_table(self) -> None:
        if not self._asn_kind:
            return
        numbers = np.array(sorted(self._asn_kind), dtype=np.int64)
        ranks = np.array([_KIND_RANK[self._asn_kind[int(a)][0]] for a in numbers], dtype=np.int8)
        providers = np.array([self._provider_id(self._asn_kind[int(a)][1]) for a in numbers], dtype=np.int32)
        countries = np.array(
            [self._intern(self._countries, self._asn_country[int(a)]) if int(a) in self._asn_country else -1
             for a in numbers], dtype=np.int32)
        self._asn_table = (numbers, ranks, providers, countries)

    def _load_asn(self, version: int, file: Path) -> None:
        table = pd.read_csv(file, header=None, dtype=str, keep_default_na=False, compression="infer",
                            on_bad_lines="skip", engine="c")
        if table.shape[1] < 3:
            return
        if table.shape[1] >= 5:  # iptoasn.com layout: start, end, asn, country, description
            countries = table[3].str.strip().str.upper().to_numpy(dtype=object)
            orgs = table[4].str.strip().to_numpy(dtype=object)
        else:
            countries = np.full(len(table), "", dtype=object)
            orgs = (table[3].str.strip() if table.shape[1] > 3 else pd.Series([""] * len(table))).to_numpy(object)
        v1, starts = parse_ips(table[0].to_numpy(dtype=object))
        v2, ends = parse_ips(table[1].to_numpy(dtype=object))
        numbers = pd.to_numeric(table[2].str.strip(), errors="coerce").to_numpy(dtype=np.float64)
        keep = (v1 == version) & (v2 == version) & ~np.isnan(numbers)
        org_codes, org_names = pd.factorize(orgs[keep])
        country_codes, country_names = pd.factorize(countries[keep])
        family = self._families[version]
        family.asn = _Ranges.build(starts[keep], ends[keep], np.arange(int(keep.sum())), merge=False)
        family.asn_numbers = numbers[keep].astype(np.int64)
        org_ids = np.array([self._intern(self._orgs, str(name)) for name in org_names], dtype=np.int32)
        family.asn_orgs = org_ids[org_codes] if len(org_ids) else np.zeros(0, np.int32)
        country_ids = np.array([self._intern(self._countries, str(c)) if c else -1 for c in country_names],
                               dtype=np.int32)
        family.asn_countries = country_ids[country_codes] if len(country_ids) else np.zeros(0, np.int32)
        self.sources.append(str(file))

    def _load_cidrs(self, file: Path, kind: str, provider: str) -> None:
        label = self._provider_id(provider)
        by_version: dict[int, tuple[list[int], list[int]]] = {4: ([], []), 6: ([], [])}
        for line in _lines(file):
            bounds = cidr_bounds(line)
            if bounds is not None:
                by_version[bounds[0]][0].append(bounds[1])
                by_version[bounds[0]][1].append(bounds[2])
        for version, (starts, ends) in by_version.items():
            if starts:
                ranges = _Ranges.build(starts, ends, [label] * len(starts), merge=True)
                self._families[version].kind_lists.append((kind, ranges))
        self.sources.append(str(file))

    def _load_ipcat(self, file: Path) -> None:
        rows: dict[int, tuple[list[int], list[int], list[int]]] = {4: ([], [], []), 6: ([], [], [])}
        with file.open(encoding="utf-8") as handle:
            for row in csv.reader(handle):
                if len(row) < 3:
                    continue
                v1, start = ip_key(row[0])
                v2, end = ip_key(row[1])
                if v1 == 0 or v1 != v2:
                    continue
                rows[v1][0].append(start)
                rows[v1][1].append(end)
                rows[v1][2].append(self._provider_id(row[2].strip() or "ipcat"))
        for version, (starts, ends, labels) in rows.items():
            if starts:
                ranges = _Ranges.build(starts, ends, labels, merge=True)
                self._families[version].kind_lists.append(("datacenter", ranges))
        self.sources.append(str(file))

    def _load_asn_list(self, file: Path, kind: str) -> None:
        for line in _lines(file):
            number_text, _, comment = line.partition("#")
            number_text = number_text.strip().upper().removeprefix("AS")
            if number_text.isdigit():
                self._note_asn(int(number_text), kind, comment.strip())
        self.sources.append(str(file))

    def _load_bad_asns(self, file: Path) -> None:
        with file.open(encoding="utf-8") as handle:
            for row in csv.reader(handle, skipinitialspace=True):
                if row and row[0].strip().isdigit():
                    self._note_asn(int(row[0]), "datacenter", ",".join(row[1:]).strip())
        self.sources.append(str(file))

    def _note_asn(self, asn: int, kind: str, description: str) -> None:
        current = self._asn_kind.get(asn)
        if current is None or _KIND_RANK[kind] > _KIND_RANK[current[0]]:
            self._asn_kind[asn] = (kind, description.split(",")[0].strip() or f"AS{asn}")
        country = _COUNTRY_SUFFIX.search(description)
        if country and asn not in self._asn_country:
            self._asn_country[asn] = country.group(1)

    # ---- lookup --------------------------------------------------------------------------------
    def lookup(self, ips: Sequence[str | None] | pd.Series) -> pd.DataFrame:
        """One row per input address (same index as a Series input), columns :data:`LOOKUP_COLUMNS`.

        Work is done once per distinct address, so repeated addresses cost nothing extra.
        """
        series = ips if isinstance(ips, pd.Series) else pd.Series(list(ips), dtype="object")
        codes, uniques = pd.factorize(series.astype("object"), use_na_sentinel=True)
        found = self.resolve(np.asarray(uniques, dtype=object))
        valid = codes >= 0
        take = np.where(valid, codes, 0)

        def pick(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
            return values[take] if len(values) else np.zeros(len(take), dtype=values.dtype)

        version = np.where(valid, pick(found.version), 0)
        asn = np.where(valid, pick(found.asn), -1)
        kind = np.where(valid & (version > 0), pick(found.kind), -1)
        provider = np.where(valid, pick(found.provider), -1)
        org = np.where(valid & (asn >= 0), pick(found.org), -1)
        country = np.where(valid, pick(found.country), -1)
        subnet = np.where(valid & (version > 0), pick(found.subnet_id), -1)
        out = pd.DataFrame(
            {
                "ip": series.astype("string").to_numpy(),
                "ip_version": _nullable(version, version > 0, "Int8"),
                "asn": _nullable(asn, asn >= 0, "Int64"),
                "as_org": pd.Categorical.from_codes(org, categories=_categories(self._orgs)),
                "as_country": pd.Categorical.from_codes(country, categories=_categories(self._countries)),
                "network_kind": pd.Categorical.from_codes(kind, categories=_categories(list(NETWORK_KINDS))),
                "provider": pd.Categorical.from_codes(provider, categories=_categories(self._providers)),
                "is_hosting": _nullable(np.isin(kind, _HOSTING_CODES), kind >= 0, "boolean"),
                "subnet_id": _nullable(subnet, subnet >= 0, "Int64"),
            },
            index=series.index,
        )
        return out

    def resolve(self, ips: npt.NDArray[Any]) -> Resolved:
        """Distinct addresses (object array of str/None) → integer-coded facts, for callers that aggregate."""
        versions, keys = parse_ips(ips)
        n = len(ips)
        asn = np.full(n, -1, dtype=np.int64)
        org = np.full(n, -1, dtype=np.int32)
        country = np.full(n, -1, dtype=np.int32)
        rank = np.zeros(n, dtype=np.int8)
        kind = np.full(n, -1, dtype=np.int8)
        provider = np.full(n, -1, dtype=np.int32)
        for version, family in self._families.items():
            rows = np.flatnonzero(versions == version)
            if not len(rows):
                continue
            found = family.asn.find(keys[rows])
            hit = found >= 0
            asn[rows[hit]] = family.asn_numbers[found[hit]]
            org[rows[hit]] = family.asn_orgs[found[hit]]
            country[rows[hit]] = family.asn_countries[found[hit]]
            for list_kind, ranges in family.kind_lists:
                labels = ranges.find(keys[rows])
                better = (labels >= 0) & (_KIND_RANK[list_kind] > rank[rows])
                target = rows[better]
                rank[target] = _KIND_RANK[list_kind]
                kind[target] = NETWORK_KINDS.index(list_kind)
                provider[target] = labels[better]
        if self._asn_table is not None and (asn >= 0).any():
            numbers, ranks, providers, countries = self._asn_table
            pos = np.clip(np.searchsorted(numbers, asn), 0, len(numbers) - 1)
            listed = numbers[pos] == asn
            better = listed & (ranks[pos] > rank)
            rank[better] = ranks[pos][better]
            kind[better] = [NETWORK_KINDS.index(_RANK_KIND[r]) for r in ranks[pos][better]]
            provider[better] = providers[pos][better]
            fill = listed & (country < 0)
            country[fill] = countries[pos][fill]
        unlisted = (rank == 0) & (versions > 0)
        residential = unlisted & (asn >= 0)
        kind[residential] = NETWORK_KINDS.index("residential")
        kind[unlisted & ~residential] = NETWORK_KINDS.index("unknown")
        subnet_id = np.where(versions == 4, keys >> _U64(8), (keys >> _U64(16)) | _U64(1 << 60)).astype(np.int64)
        return Resolved(versions, asn, org, country, kind, provider, np.where(versions > 0, subnet_id, -1))


@dataclass(frozen=True)
class Resolved:
    """Per-address facts as integer codes: kind indexes :data:`NETWORK_KINDS`; -1 means unknown."""

    version: npt.NDArray[np.int8]
    asn: npt.NDArray[np.int64]
    org: npt.NDArray[np.int32]
    country: npt.NDArray[np.int32]
    kind: npt.NDArray[np.int8]
    provider: npt.NDArray[np.int32]
    subnet_id: npt.NDArray[np.int64]  # /24 (IPv4) or /48 (IPv6), IPv6 ids carry bit 60


_HOSTING_CODES = [NETWORK_KINDS.index(kind) for kind in sorted(HOSTING_KINDS)]
_RANK_KIND = {rank: kind for kind, rank in _KIND_RANK.items()}


def subnet_label(subnet_id: int) -> str:
    """Display text of a :attr:`Resolved.subnet_id`."""
    if subnet_id >> 60:
        key = subnet_id & ((1 << 48) - 1)
        return ":".join(f"{(key >> shift) & 0xFFFF:x}" for shift in (32, 16, 0)) + "::/48"
    return f"{subnet_id >> 16}.{(subnet_id >> 8) & 255}.{subnet_id & 255}.0/24"


def parse_ips(ips: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.uint64]]:
    """(version, key) arrays for an object array of address texts (version 0 = missing or invalid).

    Dotted quads are parsed column by column with numpy, which is what makes millions of
    distinct addresses affordable; anything else goes through :func:`ip_key`.
    """
    n = len(ips)
    versions = np.zeros(n, dtype=np.int8)
    keys = np.zeros(n, dtype=_U64)
    if not n:
        return versions, keys
    texts = np.array([x if isinstance(x, str) else "" for x in ips], dtype=object)
    short = np.fromiter((len(x) <= 15 and ":" not in x for x in texts), dtype=bool, count=n)
    rows = np.flatnonzero(short)
    if len(rows):
        raw = np.array(texts[rows].tolist(), dtype="S15").view(np.uint8).reshape(len(rows), 15)
        octets = np.zeros((len(rows), 4), dtype=np.int64)
        digits = np.zeros((len(rows), 4), dtype=np.int64)
        dots = np.zeros(len(rows), dtype=np.int64)
        ok = np.ones(len(rows), dtype=bool)
        for column in range(15):
            char = raw[:, column].astype(np.int64)
            is_digit = (char >= 48) & (char <= 57)
            is_dot = char == 46
            ok &= is_digit | is_dot | (char == 0)
            slot = np.minimum(dots, 3)
            at = np.flatnonzero(is_digit)
            octets[at, slot[at]] = octets[at, slot[at]] * 10 + (char[at] - 48)
            digits[at, slot[at]] += 1
            dots += is_dot
        ok &= (dots == 3) & (digits >= 1).all(axis=1) & (digits <= 3).all(axis=1) & (octets <= 255).all(axis=1)
        good = rows[ok]
        keys[good] = ((octets[ok, 0] << 24) | (octets[ok, 1] << 16) | (octets[ok, 2] << 8) | octets[ok, 3]).astype(_U64)
        versions[good] = 4
        short[rows[~ok]] = False
    for i in np.flatnonzero(~short):
        if texts[i]:
            version, key = ip_key(texts[i])
            versions[i], keys[i] = version, key
    return versions, keys


def _nullable(values: npt.NDArray[Any], present: npt.NDArray[np.bool_], dtype: Any) -> Any:
    """A nullable extension array of ``values``, null where not ``present``."""
    return pd.Series(values).astype(dtype).where(present).array


def _categories(values: list[str]) -> pd.Index:
    return pd.Index(values, dtype="object")


def _first_existing(folder: Path, names: Iterable[str]) -> Path | None:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    return None


def _lines(file: Path) -> Iterable[str]:
    with file.open(encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#"):
                yield line
