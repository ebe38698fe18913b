"""IP intelligence: which network an address belongs to, from offline range lists.

Loaded from a directory laid out like ``../shared/ipdata`` (see its README); every file
is optional, so a partial directory (or :meth:`IPIntel.empty`) still works and simply
knows less:

* ``ip2asn/asn-ipv{4,6}.csv[.xz]`` - ``start_ip,end_ip,asn,org`` (a fifth column between
  asn and org, if present, is taken as the AS country: the iptoasn.com layout);
* ``cloud_provider_ranges/<provider>_ipv{4,6}_merged.txt`` - one CIDR per line;
* ``x4bnet_lists_vpn/{datacenter,vpn}_ipv{4,6}.txt`` and ``{datacenter,vpn}_asns.txt``;
* ``ipcat_datacenters.csv`` - ``start_ip,end_ip,provider,url``;
* ``bad_asn_list.csv`` - ``ASN,Entity`` hosting ASNs (a trailing ``, CC`` gives the AS country).

Lookups are vectorised: each list is sorted, disjoint integer intervals searched with
``np.searchsorted``, once per distinct address (see :mod:`detectors.ipintel.addresses`).

``network_kind`` is one of :data:`NETWORK_KINDS`.  Precedence when lists overlap:
crawler > relay > vpn > cloud > datacenter; an address with a known ASN that is on no
list is ``residential`` (really "eyeball or other"); without ASN data it is ``unknown``.
Loading the full shared directory takes a few seconds: load once per process (the
object is immutable and picklable).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors.ipintel.addresses import parse_ips
from detectors.ipintel.sources import KIND_RANK, Tables, load_directory

NETWORK_KINDS: tuple[str, ...] = ("residential", "cloud", "datacenter", "vpn", "relay", "crawler", "unknown")
HOSTING_KINDS = frozenset({"cloud", "datacenter", "vpn", "relay", "crawler"})
_U64 = np.uint64

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


class IPIntel:
    """Immutable IP → network lookup tables (build with :meth:`from_directory` or :meth:`empty`)."""

    def __init__(self, tables: Tables | None = None) -> None:
        self._tables = tables if tables is not None else Tables()

    @classmethod
    def empty(cls) -> IPIntel:
        return cls()

    @classmethod
    def from_directory(cls, path: str | Path) -> IPIntel:
        return cls(load_directory(path))

    @property
    def sources(self) -> list[str]:
        """The files that were loaded."""
        return list(self._tables.sources)

    @property
    def country_names(self) -> list[str]:
        """Country codes indexed by :attr:`Resolved.country`."""
        return list(self._tables.countries)

    @property
    def has_asn_data(self) -> bool:
        return any(len(f.asn.starts) for f in self._tables.families.values())

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
                "as_org": pd.Categorical.from_codes(org, categories=_categories(self._tables.orgs)),
                "as_country": pd.Categorical.from_codes(country, categories=_categories(self._tables.countries)),
                "network_kind": pd.Categorical.from_codes(kind, categories=_categories(list(NETWORK_KINDS))),
                "provider": pd.Categorical.from_codes(provider, categories=_categories(self._tables.providers)),
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
        for version, family in self._tables.families.items():
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
                better = (labels >= 0) & (KIND_RANK[list_kind] > rank[rows])
                target = rows[better]
                rank[target] = KIND_RANK[list_kind]
                kind[target] = NETWORK_KINDS.index(list_kind)
                provider[target] = labels[better]
        if self._tables.asn_table is not None and (asn >= 0).any():
            numbers, ranks, providers, countries = self._tables.asn_table
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
_RANK_KIND = {rank: kind for kind, rank in KIND_RANK.items()}


def _nullable(values: npt.NDArray[Any], present: npt.NDArray[np.bool_], dtype: Any) -> Any:
    """A nullable extension array of ``values``, null where not ``present``."""
    return pd.Series(values).astype(dtype).where(present).array


def _categories(values: list[str]) -> pd.Index:
    return pd.Index(values, dtype="object")
