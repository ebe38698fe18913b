"""Reading an IP-data directory (the layout of ``../shared/ipdata``) into lookup tables.

Every file is optional.  Loading is vectorised where the files are large (the ip2asn
CSVs go through pandas' C parser and :func:`~detectors.ipintel.addresses.parse_ips`).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors.ipintel.addresses import Ranges, cidr_bounds, ip_key, parse_ips

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
# precedence when lists overlap: the more specific kind of network wins
KIND_RANK = {"crawler": 5, "relay": 4, "vpn": 3, "cloud": 2, "datacenter": 1}
_COUNTRY_SUFFIX = re.compile(r",\s*([A-Z]{2})\s*(\(.*\))?\s*$")


@dataclass
class Family:
    """One IP version's tables."""

    asn: Ranges = field(default_factory=Ranges)
    asn_numbers: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    asn_orgs: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    asn_countries: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    kind_lists: list[tuple[str, Ranges]] = field(default_factory=list)  # (kind, ranges labelled by provider id)


@dataclass
class Tables:
    """Everything a lookup needs; label lists are indexed by the codes stored in the ranges."""

    families: dict[int, Family] = field(default_factory=lambda: {4: Family(), 6: Family()})
    providers: list[str] = field(default_factory=list)
    orgs: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    # listed ASNs sorted, with their kind rank, provider code and country code
    asn_table: tuple[npt.NDArray[np.int64], npt.NDArray[np.int8], npt.NDArray[np.int32],
                     npt.NDArray[np.int32]] | None = None
    sources: list[str] = field(default_factory=list)


def load_directory(path: str | Path) -> Tables:
    return _Loader().load(Path(path))


class _Loader:
    def __init__(self) -> None:
        self.tables = Tables()
        self._codes: dict[str, dict[str, int]] = {"providers": {}, "orgs": {}, "countries": {}}
        self._asn_kind: dict[int, tuple[str, str]] = {}  # asn → (kind, provider label)
        self._asn_country: dict[int, str] = {}

    def load(self, root: Path) -> Tables:
        for version in (4, 6):
            asn_file = _first_existing(root / "ip2asn", [f"asn-ipv{version}.csv.xz", f"asn-ipv{version}.csv"])
            if asn_file is not None:
                self._load_asn(version, asn_file)
        cloud_dir = root / "cloud_provider_ranges"
        if cloud_dir.is_dir():
            for file in sorted(cloud_dir.glob("*_ipv*_merged.txt")):
                match = re.fullmatch(r"(.+)_ipv([46])_merged\.txt", file.name)
                if match:
                    provider = match.group(1)
                    self._load_cidrs(file, PROVIDER_KINDS.get(provider, "cloud"), provider)
        vpn_dir = root / "x4bnet_lists_vpn"
        for kind in ("datacenter", "vpn"):
            for version in (4, 6):
                file = vpn_dir / f"{kind}_ipv{version}.txt"
                if file.is_file():
                    self._load_cidrs(file, kind, f"x4bnet-{kind}")
            asn_list = vpn_dir / f"{kind}_asns.txt"
            if asn_list.is_file():
                self._load_asn_list(asn_list, kind)
        if (root / "ipcat_datacenters.csv").is_file():
            self._load_ipcat(root / "ipcat_datacenters.csv")
        if (root / "bad_asn_list.csv").is_file():
            self._load_bad_asns(root / "bad_asn_list.csv")
        self._build_asn_table()
        return self.tables

    def _intern(self, name: str, value: str) -> int:
        codes = self._codes[name]
        code = codes.get(value)
        if code is None:
            code = codes[value] = len(codes)
            getattr(self.tables, name).append(value)
        return code

    def _provider_id(self, provider: str) -> int:
        return self._intern("providers", provider)

    def _build_asn_table(self) -> None:
        if not self._asn_kind:
            return
        numbers = np.array(sorted(self._asn_kind), dtype=np.int64)
        ranks = np.array([KIND_RANK[self._asn_kind[int(a)][0]] for a in numbers], dtype=np.int8)
        providers = np.array([self._provider_id(self._asn_kind[int(a)][1]) for a in numbers], dtype=np.int32)
        countries = np.array(
            [self._intern("countries", self._asn_country[int(a)]) if int(a) in self._asn_country else -1
             for a in numbers], dtype=np.int32)
        self.tables.asn_table = (numbers, ranks, providers, countries)

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
        family = self.tables.families[version]
        family.asn = Ranges.build(starts[keep], ends[keep], np.arange(int(keep.sum())), merge=False)
        family.asn_numbers = numbers[keep].astype(np.int64)
        org_ids = np.array([self._intern("orgs", str(name)) for name in org_names], dtype=np.int32)
        family.asn_orgs = org_ids[org_codes] if len(org_ids) else np.zeros(0, np.int32)
        country_ids = np.array([self._intern("countries", str(c)) if c else -1 for c in country_names],
                               dtype=np.int32)
        family.asn_countries = country_ids[country_codes] if len(country_ids) else np.zeros(0, np.int32)
        self.tables.sources.append(str(file))

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
                ranges = Ranges.build(starts, ends, [label] * len(starts), merge=True)
                self.tables.families[version].kind_lists.append((kind, ranges))
        self.tables.sources.append(str(file))

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
                ranges = Ranges.build(starts, ends, labels, merge=True)
                self.tables.families[version].kind_lists.append(("datacenter", ranges))
        self.tables.sources.append(str(file))

    def _load_asn_list(self, file: Path, kind: str) -> None:
        for line in _lines(file):
            number_text, _, comment = line.partition("#")
            number_text = number_text.strip().upper().removeprefix("AS")
            if number_text.isdigit():
                self._note_asn(int(number_text), kind, comment.strip())
        self.tables.sources.append(str(file))

    def _load_bad_asns(self, file: Path) -> None:
        with file.open(encoding="utf-8") as handle:
            for row in csv.reader(handle, skipinitialspace=True):
                if row and row[0].strip().isdigit():
                    self._note_asn(int(row[0]), "datacenter", ",".join(row[1:]).strip())
        self.tables.sources.append(str(file))

    def _note_asn(self, asn: int, kind: str, description: str) -> None:
        current = self._asn_kind.get(asn)
        if current is None or KIND_RANK[kind] > KIND_RANK[current[0]]:
            self._asn_kind[asn] = (kind, description.split(",")[0].strip() or f"AS{asn}")
        country = _COUNTRY_SUFFIX.search(description)
        if country and asn not in self._asn_country:
            self._asn_country[asn] = country.group(1)


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
