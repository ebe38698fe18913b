"""Network and client infrastructure: proxy/cloud traffic, IP rotation, rarity-weighted IP sharing.

IP facts come from an :class:`~detectors.ipintel.IPIntel` given to the constructor (none:
every network kind is unknown and the network-kind shares are NaN, the rest still works).

Sharing is weighted by rarity: an address used by *k* accounts contributes ``2 / k``
(k ≥ 2), so an address shared by 3 accounts is strong evidence (0.67) and one shared by
3,000 — a mobile carrier's CGNAT — is next to none (0.0007).  The weights are averaged
over the account's requests, giving a value in [0, 1].
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pandas as pd

from detectors.base import Aggregation, Batch, FeatureExtractor, Kept, TableSpec, check_events, empty_features
from detectors.features.aggregate import DAY_NS, entropy_of_groups, per_account, ratio, sum_by_account
from detectors.features.tokens import stable_codes
from detectors.ipintel import NETWORK_KINDS, IPIntel

_KIND_COUNTS = {kind: f"n_{kind}" for kind in ("cloud", "datacenter", "vpn", "relay", "crawler")}
_DAY_COUNTS = ["n", "n_ip", "n_classified", "n_hosting", *_KIND_COUNTS.values()]


class InfrastructureFeatures(FeatureExtractor):
    """Where requests come from and how the account's network identity behaves."""

    feature_names = (
        "hosting_traffic_share",
        "cloud_traffic_share",
        "datacenter_traffic_share",
        "vpn_traffic_share",
        "relay_traffic_share",
        "ip_distinct_per_day",
        "subnet_distinct_per_day",
        "asn_distinct_per_day",
        "ip_churn_rate",
        "ip_single_use_share",
        "ip_sharing_rarity_weighted",
        "subnet_sharing_rarity_weighted",
        "ip_shared_traffic_share",
        "ip_country_mismatch_share",
        "user_agent_distinct_count",
        "user_agent_entropy",
        "tls_fingerprint_distinct_count",
        "account_age_days_at_first_request",
        "signup_channel_account_share",
    )

    def __init__(self, ip_intel: IPIntel | None = None) -> None:
        self.ip_intel = ip_intel

    def fit(self, events: pd.DataFrame, accounts: pd.DataFrame | None = None) -> Self:
        check_events(events)
        self.ip_intel_ = self.ip_intel if self.ip_intel is not None else IPIntel.empty()
        self.n_features_out_ = len(self.feature_names)
        return self

    def table_specs(self) -> dict[str, TableSpec]:
        day_aggs: dict[str, Aggregation] = {**dict.fromkeys(_DAY_COUNTS, "sum"), "first_ts": "min"}
        return {
            "infra_day": TableSpec(("account_id", "day"), day_aggs),
            "infra_ip": TableSpec(("account_id", "day", "ip_key", "subnet_id", "asn"), {"n": "sum"}),
            "infra_country": TableSpec(("account_id", "day", "ip_country"), {"n": "sum"}),
            "infra_client": TableSpec(("account_id", "day", "field", "value_key"), {"n": "sum"}),
        }

    def partial(self, batch: Batch) -> dict[str, pd.DataFrame]:
        intel = self.ip_intel_
        events, ts, day, account = batch.events, batch.ts, batch.day, batch.account
        ip_codes, ip_values = pd.factorize(events["ip"].to_numpy(dtype=object), use_na_sentinel=True)
        facts = intel.resolve(np.asarray(ip_values, dtype=object))
        has_ip = ip_codes >= 0
        safe = np.where(has_ip, ip_codes, 0)

        def per_event(values: npt.NDArray[Any], missing: int) -> npt.NDArray[Any]:
            return np.where(has_ip, values[safe], missing) if len(values) else np.full(len(ts), missing)

        kind = per_event(facts.kind, -1)
        valid = has_ip & (per_event(facts.version, 0) > 0)
        classified = valid & (kind >= 0) & (kind != NETWORK_KINDS.index("unknown"))
        counts: dict[str, Any] = {
            "n": np.ones(len(ts), np.int64),
            "n_ip": valid.astype(np.int64),
            "n_classified": classified.astype(np.int64),
            "n_hosting": (classified & (kind != NETWORK_KINDS.index("residential"))).astype(np.int64),
        }
        for name, count in _KIND_COUNTS.items():
            counts[count] = (classified & (kind == NETWORK_KINDS.index(name))).astype(np.int64)
        day_table = batch.table({"account_id": account, "day": day}, {**counts, "first_ts": ts},
                                self.table_specs()["infra_day"].aggs)

        # one hash per distinct address, not per event
        ip_key = np.where(has_ip, stable_codes(pd.Series(ip_values, dtype=object))[safe] if len(ip_values) else 0, 0)
        ip_table = batch.table(
            {"account_id": account[valid], "day": day[valid], "ip_key": ip_key[valid],
             "subnet_id": per_event(facts.subnet_id, -1)[valid], "asn": per_event(facts.asn, -1)[valid]},
            {"n": np.ones(int(valid.sum()), np.int64)}, {"n": "sum"})

        country_code = per_event(facts.country, -1)
        known = valid & (country_code >= 0)
        country_table = batch.table(
            {"account_id": account[known], "day": day[known], "ip_country": country_code[known]},
            {"n": np.ones(int(known.sum()), np.int64)}, {"n": "sum"})
        country_table["ip_country"] = np.asarray(intel.country_names, dtype=object)[
            country_table["ip_country"].to_numpy(dtype=np.int64)]

        fields, keys, owners, days = [], [], [], []
        for field, name in enumerate(("user_agent", "tls_fingerprint")):
            key = stable_codes(events[name])
            present = key != 0
            fields.append(np.full(int(present.sum()), field, dtype=np.int64))
            keys.append(key[present])
            owners.append(account[present])
            days.append(day[present])
        client_table = batch.table(
            {"account_id": np.concatenate(owners), "day": np.concatenate(days), "field": np.concatenate(fields),
             "value_key": np.concatenate(keys)},
            {"n": np.ones(sum(len(k) for k in keys), np.int64)}, {"n": "sum"})
        return {"infra_day": day_table, "infra_ip": ip_table, "infra_country": country_table,
                "infra_client": client_table}

    def finalize(self, tables: dict[str, pd.DataFrame], accounts: pd.DataFrame, *, now_ns: int | None,
                 n_accounts: int, kept: Kept | None = None) -> pd.DataFrame:
        out = empty_features(n_accounts, self.feature_names)
        days = tables.get("infra_day")
        if days is None or days.empty:
            return out
        sums = sum_by_account(days, _DAY_COUNTS, n_accounts)
        out["hosting_traffic_share"] = ratio(sums["n_hosting"], sums["n_classified"])
        for kind in ("cloud", "datacenter", "vpn", "relay"):
            out[f"{kind}_traffic_share"] = ratio(sums[_KIND_COUNTS[kind]], sums["n_classified"])
        ips = tables.get("infra_ip")
        if ips is not None and not ips.empty:
            ip_features = _ip_features(ips, n_accounts)
            out[ip_features.columns] = ip_features
        out["ip_country_mismatch_share"] = _country_mismatch(tables.get("infra_country"), accounts, n_accounts)
        clients = tables.get("infra_client")
        if clients is not None and not clients.empty:
            merged = clients.groupby(["account", "field", "value_key"], sort=True)["n"].sum().reset_index()
            agents = merged[merged["field"] == 0].reset_index(drop=True)
            tls = merged[merged["field"] == 1]
            out["user_agent_distinct_count"] = per_account(agents.groupby("account", sort=True).size(), n_accounts)
            out["user_agent_entropy"] = entropy_of_groups(agents, "n", n_accounts)
            out["tls_fingerprint_distinct_count"] = per_account(tls.groupby("account", sort=True).size(), n_accounts)
        first_ts = per_account(days.groupby("account", sort=True)["first_ts"].min(), n_accounts).to_numpy()
        created = accounts["created_at"]
        created_ns = np.where(created.isna().to_numpy(), np.nan,
                              created.array.asi8.astype(np.float64) if len(created) else np.zeros(0))
        out["account_age_days_at_first_request"] = (first_ts - created_ns) / DAY_NS
        channel = accounts["signup_channel"].astype("object")
        # the population is the accounts active in the window, so dormant sign-ups do not dilute it
        out["signup_channel_account_share"] = channel.map(channel.value_counts(normalize=True)).astype("float64")
        return out


_IP_NAMES = ("ip_distinct_per_day", "subnet_distinct_per_day", "asn_distinct_per_day", "ip_churn_rate",
             "ip_single_use_share", "ip_sharing_rarity_weighted", "subnet_sharing_rarity_weighted",
             "ip_shared_traffic_share")


def _ip_features(ips: pd.DataFrame, n_accounts: int) -> pd.DataFrame:
    out = pd.DataFrame(np.nan, index=pd.RangeIndex(n_accounts), columns=list(_IP_NAMES))
    known_asn = ips.assign(asn=ips["asn"].where(ips["asn"] >= 0))  # nunique skips the NaN of unknown ASNs
    per_day = known_asn.groupby(["account", "day"], sort=True).agg(
        ip=("ip_key", "nunique"), subnet=("subnet_id", "nunique"), asn=("asn", "nunique"))
    per_account_day = per_day.groupby(level="account", sort=True).mean()
    out["ip_distinct_per_day"] = per_account(per_account_day["ip"], n_accounts)
    out["subnet_distinct_per_day"] = per_account(per_account_day["subnet"], n_accounts)
    # without ASN data (or for unknown ASNs) there is nothing to count: NaN, not 0
    out["asn_distinct_per_day"] = per_account(per_account_day["asn"].where(per_account_day["asn"] > 0), n_accounts)

    by_ip = ips.groupby(["account", "ip_key", "subnet_id"], sort=True)["n"].sum().reset_index()
    owner = by_ip["account"].to_numpy()
    traffic = by_ip["n"].to_numpy(dtype=np.float64)
    requests = pd.Series(traffic).groupby(owner).sum()
    out["ip_churn_rate"] = per_account(ratio(pd.Series(owner).groupby(owner).size(), requests), n_accounts)
    out["ip_single_use_share"] = per_account(pd.Series(traffic == 1).groupby(owner).mean(), n_accounts)

    sharing = _accounts_per_key(by_ip, "ip_key")
    weight = np.where(sharing >= 2, 2.0 / np.maximum(sharing, 1), 0.0)
    out["ip_sharing_rarity_weighted"] = per_account(
        ratio(pd.Series(weight * traffic).groupby(owner).sum(), requests), n_accounts)
    out["ip_shared_traffic_share"] = per_account(
        ratio(pd.Series((sharing >= 2) * traffic).groupby(owner).sum(), requests), n_accounts)

    by_subnet = by_ip.groupby(["account", "subnet_id"], sort=True)["n"].sum().reset_index()
    subnet_sharing = _accounts_per_key(by_subnet, "subnet_id")
    subnet_weight = np.where(subnet_sharing >= 2, 2.0 / np.maximum(subnet_sharing, 1), 0.0)
    subnet_owner = by_subnet["account"].to_numpy()
    out["subnet_sharing_rarity_weighted"] = per_account(ratio(
        pd.Series(subnet_weight * by_subnet["n"].to_numpy(dtype=np.float64)).groupby(subnet_owner).sum(),
        requests), n_accounts)
    return out


def _accounts_per_key(table: pd.DataFrame, key: str) -> npt.NDArray[np.float64]:
    """For each (account, key) row: how many accounts use that key (rows are unique per account and key)."""
    keys = table[key].to_numpy()
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return counts[inverse].astype(np.float64)


def _country_mismatch(countries: pd.DataFrame | None, accounts: pd.DataFrame, n_accounts: int) -> pd.Series:
    """Share of requests whose IP's AS country differs from the billing country (NaN if either is unknown)."""
    if countries is None or countries.empty:
        return pd.Series(np.nan, index=pd.RangeIndex(n_accounts))
    billing = np.array([c.upper() if isinstance(c, str) else None for c in accounts["country"].astype("object")],
                       dtype=object)
    merged = countries.groupby(["account", "ip_country"], sort=True)["n"].sum().reset_index()
    owner = merged["account"].to_numpy(dtype=np.int64)
    own = billing[owner]
    known = np.array([c is not None for c in own], dtype=bool)
    mismatch = (merged["ip_country"].to_numpy() != own) & known
    n = merged["n"].to_numpy(dtype=np.float64)
    total = pd.Series(np.where(known, n, 0.0)).groupby(owner).sum()
    return per_account(ratio(pd.Series(mismatch * n).groupby(owner).sum(), total), n_accounts)
