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

from detectors.base import FeatureExtractor, TableSpec, check_events, empty_features
from detectors.features.aggregate import DAY_NS, column, entropy_of_groups, ratio, sum_by_account, timestamps
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
        day_aggs = dict.fromkeys(_DAY_COUNTS, "sum")
        return {
            "infra_day": TableSpec(("account_id", "day"), {**day_aggs, "first_ts": "min"}),  # type: ignore[dict-item]
            "infra_ip": TableSpec(("account_id", "day", "ip_key", "subnet_id", "asn"), {"n": "sum"}),
            "infra_country": TableSpec(("account_id", "day", "ip_country"), {"n": "sum"}),
            "infra_client": TableSpec(("account_id", "day", "field", "value_key"), {"n": "sum"}),
        }

    def partial(self, events: pd.DataFrame) -> dict[str, pd.DataFrame]:
        intel = self.ip_intel_
        ts = timestamps(events)
        day = ts // DAY_NS
        account = events["account_id"].to_numpy()
        ip_codes, ip_values = pd.factorize(events["ip"].astype("object"), use_na_sentinel=True)
        facts = intel.resolve(np.asarray(ip_values, dtype=object))
        has_ip = ip_codes >= 0
        safe = np.where(has_ip, ip_codes, 0)

        def per_event(values: npt.NDArray[Any], missing: int) -> npt.NDArray[Any]:
            return np.where(has_ip, values[safe], missing) if len(values) else np.full(len(ts), missing)

        kind = per_event(facts.kind, -1)
        valid = has_ip & (per_event(facts.version, 0) > 0)
        classified = valid & (kind >= 0) & (kind != NETWORK_KINDS.index("unknown"))
        day_values = {"account_id": account, "day": day, "n": 1, "n_ip": valid, "n_classified": classified,
                      "n_hosting": classified & ~np.isin(kind, [NETWORK_KINDS.index("residential")]),
                      "first_ts": ts}
        for name, count in _KIND_COUNTS.items():
            day_values[count] = classified & (kind == NETWORK_KINDS.index(name))
        day_frame = pd.DataFrame(day_values)
        day_table = day_frame.groupby(["account_id", "day"], sort=True).agg(
            self.table_specs()["infra_day"].aggs).reset_index()

        ip_key = stable_codes(events["ip"])
        ip_rows = pd.DataFrame({"account_id": account[valid], "day": day[valid], "ip_key": ip_key[valid],
                                "subnet_id": per_event(facts.subnet_id, -1)[valid],
                                "asn": per_event(facts.asn, -1)[valid], "n": 1})
        ip_table = ip_rows.groupby(["account_id", "day", "ip_key", "subnet_id", "asn"], sort=True)["n"].sum()

        country_code = per_event(facts.country, -1)
        known = valid & (country_code >= 0)
        countries = np.asarray(intel.country_names, dtype=object)
        country_rows = pd.DataFrame({"account_id": account[known], "day": day[known],
                                     "ip_country": countries[country_code[known]] if known.any() else [], "n": 1})
        country_table = country_rows.groupby(["account_id", "day", "ip_country"], sort=True)["n"].sum()

        clients = []
        for field, name in enumerate(("user_agent", "tls_fingerprint")):
            key = stable_codes(events[name]) if name in events else np.zeros(len(ts), np.int64)
            present = key != 0
            clients.append(pd.DataFrame({"account_id": account[present], "day": day[present], "field": field,
                                         "value_key": key[present], "n": 1}))
        client_table = pd.concat(clients, ignore_index=True).groupby(
            ["account_id", "day", "field", "value_key"], sort=True)["n"].sum()
        return {"infra_day": day_table, "infra_ip": ip_table.reset_index(),
                "infra_country": country_table.reset_index(), "infra_client": client_table.reset_index()}

    def finalize(
        self, tables: dict[str, pd.DataFrame], accounts: pd.DataFrame, *, now_ns: int | None, index: pd.Index
    ) -> pd.DataFrame:
        out = empty_features(index, self.feature_names)
        days = tables.get("infra_day")
        if days is None or days.empty:
            return out
        sums = sum_by_account(days, _DAY_COUNTS).reindex(index, fill_value=0)
        out["hosting_traffic_share"] = ratio(sums["n_hosting"], sums["n_classified"])
        for kind in ("cloud", "datacenter", "vpn", "relay"):
            out[f"{kind}_traffic_share"] = ratio(sums[_KIND_COUNTS[kind]], sums["n_classified"])
        ips = tables.get("infra_ip")
        if ips is not None and not ips.empty:
            out[list(_IP_NAMES)] = _ip_features(ips, index)
        out["ip_country_mismatch_share"] = _country_mismatch(tables.get("infra_country"), accounts, index)
        clients = tables.get("infra_client")
        if clients is not None and not clients.empty:
            merged = clients.groupby(["account_id", "field", "value_key"], sort=True)["n"].sum().reset_index()
            agents = merged[merged["field"] == 0]
            tls = merged[merged["field"] == 1]
            out["user_agent_distinct_count"] = agents.groupby("account_id", sort=True).size().reindex(index)
            out["user_agent_entropy"] = entropy_of_groups(agents.reset_index(drop=True), "n").reindex(index)
            out["tls_fingerprint_distinct_count"] = tls.groupby("account_id", sort=True).size().reindex(index)
        first_ts = days.groupby("account_id", sort=True)["first_ts"].min().reindex(index)
        created = accounts["created_at"].reindex(index)
        created_ns = column(pd.DataFrame({"c": created.array.asi8 if len(created) else []}), "c")
        created_ns[created.isna().to_numpy()] = np.nan
        out["account_age_days_at_first_request"] = (first_ts.to_numpy(dtype=np.float64) - created_ns) / DAY_NS
        channel = accounts["signup_channel"]
        share = channel.map(channel.value_counts(normalize=True, dropna=True))
        out["signup_channel_account_share"] = share.reindex(index).astype("float64")
        return out


_IP_NAMES = ("ip_distinct_per_day", "subnet_distinct_per_day", "asn_distinct_per_day", "ip_churn_rate",
             "ip_single_use_share", "ip_sharing_rarity_weighted", "subnet_sharing_rarity_weighted",
             "ip_shared_traffic_share")


def _ip_features(ips: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    out = pd.DataFrame(np.nan, index=index, columns=list(_IP_NAMES))
    known_asn = ips.assign(asn=ips["asn"].where(ips["asn"] >= 0))  # nunique skips the NaN of unknown ASNs
    per_day = known_asn.groupby(["account_id", "day"], sort=True).agg(
        ip=("ip_key", "nunique"), subnet=("subnet_id", "nunique"), asn=("asn", "nunique"))
    per_account_day = per_day.groupby(level="account_id", sort=True).mean()
    out["ip_distinct_per_day"] = per_account_day["ip"].reindex(index)
    out["subnet_distinct_per_day"] = per_account_day["subnet"].reindex(index)
    # without ASN data (or for unknown ASNs) there is nothing to count: NaN, not 0
    out["asn_distinct_per_day"] = per_account_day["asn"].where(per_account_day["asn"] > 0).reindex(index)

    by_ip = ips.groupby(["account_id", "ip_key", "subnet_id"], sort=True)["n"].sum().reset_index()
    grouped = by_ip.groupby("account_id", sort=True)
    requests = grouped["n"].sum()
    out["ip_churn_rate"] = ratio(grouped.size(), requests).reindex(index)
    out["ip_single_use_share"] = (by_ip["n"] == 1).groupby(by_ip["account_id"], sort=True).mean().reindex(index)

    sharing = by_ip["ip_key"].map(by_ip.groupby("ip_key")["account_id"].nunique()).to_numpy(dtype=np.float64)
    weight = np.where(sharing >= 2, 2.0 / sharing, 0.0)
    traffic = by_ip["n"].to_numpy(dtype=np.float64)
    out["ip_sharing_rarity_weighted"] = ratio(
        pd.Series(weight * traffic).groupby(by_ip["account_id"].to_numpy()).sum(), requests).reindex(index)
    out["ip_shared_traffic_share"] = ratio(
        pd.Series((sharing >= 2) * traffic).groupby(by_ip["account_id"].to_numpy()).sum(), requests).reindex(index)

    by_subnet = by_ip.groupby(["account_id", "subnet_id"], sort=True)["n"].sum().reset_index()
    subnet_sharing = by_subnet["subnet_id"].map(by_subnet.groupby("subnet_id")["account_id"].nunique())
    subnet_weight = np.where(subnet_sharing >= 2, 2.0 / subnet_sharing.to_numpy(dtype=np.float64), 0.0)
    out["subnet_sharing_rarity_weighted"] = ratio(
        pd.Series(subnet_weight * by_subnet["n"].to_numpy(dtype=np.float64)).groupby(
            by_subnet["account_id"].to_numpy()).sum(), requests).reindex(index)
    return out


def _country_mismatch(countries: pd.DataFrame | None, accounts: pd.DataFrame, index: pd.Index) -> pd.Series:
    """Share of requests whose IP's AS country differs from the billing country (NaN if either is unknown)."""
    if countries is None or countries.empty:
        return pd.Series(np.nan, index=index)
    billing = accounts["country"].astype("object").str.upper()
    merged = countries.groupby(["account_id", "ip_country"], sort=True)["n"].sum().reset_index()
    own = merged["account_id"].map(billing)
    known = own.notna()
    merged = merged[known.to_numpy()]
    mismatch = (merged["ip_country"].to_numpy() != own[known].to_numpy()) * merged["n"].to_numpy()
    total = merged.groupby("account_id", sort=True)["n"].sum()
    return ratio(pd.Series(mismatch, index=merged.index).groupby(merged["account_id"]).sum(), total).reindex(index)
