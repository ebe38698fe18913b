"""Cluster-level features: what a cluster of accounts looks like as one actor.

Computed with group-bys over all clusters at once (no per-cluster Python loop), indexed by cluster label.  The
columns are also the numbers the evidence sentences quote (:mod:`.evidence`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from detectors.arrays import order_by
from detectors.linking.config import EDGE_KINDS, LinkingConfig
from detectors.linking.cores import Cores, task_pool
from detectors.linking.graph import weight_column
from detectors.linking.infrastructure import client_codes
from detectors.linking.inputs import LinkingInput, epoch_seconds
from detectors.linking.questions import account_questions
from detectors.linking.request_shape import SHAPE_FIELDS, account_shapes, describe_shape
from detectors.linking.schedule import locked_schedules, schedule_memberships
from detectors.linking.signup import signup_keys
from detectors.linking.synchrony import active_buckets, bucket_chance, model_switches
from detectors.linking.templates import TemplateIndex

# Every column of the cluster feature frame, with its dtype.
CLUSTER_FEATURES: dict[str, str] = {
    "size": "int64", "total_requests": "int64", "first_seen": "datetime64[ns, UTC]", "last_seen": "datetime64[ns, UTC]",
    "signup_spread_hours": "float64", "top_signup_key": "string", "top_signup_key_share": "float64",
    "union_topic_coverage": "float64", "mean_member_topics": "float64", "topic_disjointness": "float64",
    "lockstep_share": "float64", "lockstep_observed": "float64", "lockstep_expected": "float64",
    "n_ips": "float64", "shared_ips": "float64", "members_on_shared_ips": "float64", "shared_ips_exclusive": "float64",
    "n_payment_fingerprints": "float64", "shared_payment_fingerprints": "float64",
    "members_sharing_payment": "float64", "shared_clients": "float64", "members_sharing_client": "float64",
    "shared_clients_exclusive": "float64", "shared_client_outside_accounts": "float64",
    "same_org_share": "float64", "top_org": "string",
    "shared_templates": "float64", "template_request_share": "float64", "template_requests": "float64",
    "shared_request_shapes": "float64", "members_sharing_request_shape": "float64",
    "request_shape_request_share": "float64", "top_shared_request_shape": "string",
    "members_sharing_wrapper": "float64", "shared_questions": "float64", "members_sharing_questions": "float64",
    "shared_questions_exclusive": "float64",
    "members_on_shared_schedule": "float64", "schedule_period_minutes": "float64", "schedule_phase_seconds": "float64",
    "schedule_phase_spread_seconds": "float64",
    "migration_model": "string", "migrated_members": "float64", "migration_spread_hours": "float64",
    "share_high_risk_members": "float64", "mean_member_risk": "float64",
    "internal_edges": "int64", "internal_weight": "float64", "density": "float64",
    **{weight_column(kind): "float64" for kind in EDGE_KINDS},
}  # fmt: skip

# Tier names that mean an organisation's contract rather than a person's (team plans, enterprise, education).
ORGANISATIONAL_TIERS = r"enterprise|business|team|org|edu|corporate|company"


def _shared_values(pairs: pd.DataFrame, value: str, outside_users: pd.Series | None = None) -> pd.DataFrame:
    """Per cluster: values used by two or more members, members using one, and (optionally) how many of those
    values no account outside the cluster uses.  ``pairs`` has distinct (cluster, account, value) rows."""
    users = pairs.groupby(["cluster", value], sort=False)["account"].transform("size")
    shared = pairs[users.to_numpy() >= 2]
    out = pd.DataFrame(
        {
            "values": pairs.groupby("cluster")[value].nunique(),
            "shared": shared.groupby("cluster")[value].nunique(),
            "members": shared.groupby("cluster")["account"].nunique(),
        }
    )
    if outside_users is not None and not shared.empty:
        per_value = shared.drop_duplicates(["cluster", value]).copy()
        in_cluster = shared.groupby(["cluster", value], sort=False)["account"].nunique()
        total = outside_users.reindex(per_value[value].to_numpy()).to_numpy()
        inside = in_cluster.reindex(pd.MultiIndex.from_frame(per_value[["cluster", value]])).to_numpy()
        per_value["exclusive"] = total == inside
        per_value["outside"] = total - inside
        out["exclusive"] = per_value.groupby("cluster")["exclusive"].sum()
        out["outside"] = per_value.groupby("cluster")["outside"].max()
    return out.fillna(0)


def _described_rows(rows: pd.DataFrame, described: np.ndarray | None) -> pd.DataFrame:
    """The rows of accounts whose clusters are described (all rows if ``described`` is None)."""
    return rows if described is None else rows[described[rows["account"].to_numpy(np.int64)]]


def _infrastructure(data: LinkingInput, label: pd.Series, described: np.ndarray | None = None) -> pd.DataFrame:
    """``described`` (per account code, as for every part): the accounts whose clusters are wanted; values'
    users are counted over every account all the same."""
    events = data.events
    out = pd.DataFrame(index=pd.Index(label.unique(), name="cluster_label"))
    ip_use = pd.DataFrame({"account": events["account"], "ip": events["ip_code"]})
    ip_use = ip_use[ip_use["ip"].to_numpy() >= 0].drop_duplicates()
    ip_users = ip_use.groupby("ip")["account"].size()
    ip_use = _described_rows(ip_use, described)
    ip_use["cluster"] = label.to_numpy()[ip_use["account"].to_numpy()]
    ips = _shared_values(ip_use, "ip", ip_users)
    out["n_ips"] = ips["values"]
    out["shared_ips"] = ips["shared"]
    out["members_on_shared_ips"] = ips["members"]
    out["shared_ips_exclusive"] = ips.get("exclusive", pd.Series(dtype="float64"))
    accounts = data.accounts.assign(account=np.arange(data.n_accounts), cluster=label.to_numpy())
    cards = _shared_values(accounts[["cluster", "account", "payment_fingerprint"]].dropna(), "payment_fingerprint")
    out["n_payment_fingerprints"] = cards["values"]
    out["shared_payment_fingerprints"] = cards["shared"]
    out["members_sharing_payment"] = cards["members"]
    combo = client_codes(data)
    combo_use = pd.DataFrame({"account": events["account"], "combo": combo})
    combo_use = combo_use[combo >= 0].drop_duplicates()
    combo_users = combo_use.groupby("combo")["account"].size()
    combo_use = _described_rows(combo_use, described)
    combo_use["cluster"] = label.to_numpy()[combo_use["account"].to_numpy()]
    combos = _shared_values(combo_use, "combo", combo_users)
    out["shared_clients"] = combos["shared"]
    out["members_sharing_client"] = combos["members"]
    out["shared_clients_exclusive"] = combos.get("exclusive", pd.Series(dtype="float64"))
    out["shared_client_outside_accounts"] = combos.get("outside", pd.Series(dtype="float64"))
    return out.fillna(0)


def _organisation(data: LinkingInput, label: pd.Series) -> pd.DataFrame:
    """``same_org_share``: share of members in the cluster's most common declared org (metadata ``org_id``, else
    a shared e-mail domain on an organisational tier).  A cluster that is one org is common control by design;
    scoring decides whether that exempts it."""
    accounts = data.accounts
    tier = accounts["tier"].astype("string").str.lower().fillna("")
    organisational = tier.str.contains(ORGANISATIONAL_TIERS, regex=True).to_numpy(dtype=bool)
    domain_org = ("domain:" + accounts["email_domain"].astype("string").str.lower()).where(organisational)
    org = accounts["org_id"].astype("string").fillna(domain_org)
    frame = pd.DataFrame({"cluster": label.to_numpy(), "org": org.to_numpy()})
    counts = frame.dropna().groupby(["cluster", "org"]).size()
    sizes = label.value_counts()
    out = pd.DataFrame(index=pd.Index(label.unique(), name="cluster_label"))
    if counts.empty:
        out["same_org_share"] = 0.0
        out["top_org"] = pd.Series(pd.NA, index=out.index, dtype="string")
        return out
    top = counts.sort_values(ascending=False, kind="stable").reset_index().drop_duplicates("cluster")
    top = top.set_index("cluster")
    out["same_org_share"] = (top[0] / sizes.reindex(top.index)).reindex(out.index).fillna(0.0)
    out["top_org"] = top["org"].reindex(out.index).astype("string")
    return out


def _signup(data: LinkingInput, label: pd.Series) -> pd.DataFrame:
    hours = epoch_seconds(data.accounts["created_at"]) / 3600.0
    frame = pd.DataFrame({"cluster": label.to_numpy(), "created": hours,
                          "key": signup_keys(data.accounts).to_numpy()})  # fmt: skip
    grouped = frame.dropna(subset=["created"]).groupby("cluster")["created"]
    out = pd.DataFrame({"signup_spread_hours": grouped.max() - grouped.min()})
    key_counts = frame.groupby(["cluster", "key"]).size().sort_values(ascending=False, kind="stable").reset_index()
    top = key_counts.drop_duplicates("cluster").set_index("cluster")
    out["top_signup_key"] = top["key"].astype("string")
    out["top_signup_key_share"] = top[0] / label.value_counts().reindex(top.index)
    return out


def _lockstep(
    data: LinkingInput, label: pd.Series, config: LinkingConfig, described: np.ndarray | None = None
) -> pd.DataFrame:
    """Per cluster: share of its members' active minutes in which another member is active too (±1 minute),
    the share expected by chance (members' activity spread over the population's rhythm: a big org in office
    hours overlaps a lot by itself), and ``lockstep_share``, the excess over chance scaled to [0, 1]."""
    columns = ["lockstep_observed", "lockstep_expected", "lockstep_share"]
    activity = active_buckets(data, config)
    if activity.empty:
        return pd.DataFrame(columns=columns, dtype="float64")
    # the population's rhythm and each account's activity from every account, the cells from the described ones
    chance = bucket_chance(activity, int(activity["bucket"].max()) + 1, config.sync_bucket_minutes)
    active = activity.groupby("account").size()
    activity = _described_rows(activity, described)
    if activity.empty:
        return pd.DataFrame(columns=columns, dtype="float64")
    accounts = activity["account"].to_numpy(np.int64)
    buckets = activity["bucket"].to_numpy(np.int64)
    cluster, _ = pd.factorize(label.to_numpy()[accounts])
    stride = np.int64(int(buckets.max()) + 3)
    # members active within a minute of each active minute: the cluster's active (minute ± 1) cells, whose
    # neighbours are the next and previous of the sorted distinct cells, less the member's own minutes
    cell = cluster.astype(np.int64) * stride + buckets + 1
    cells, inverse, counts = np.unique(cell, return_inverse=True, return_counts=True)
    others = counts[inverse].astype(np.int64)
    for step in (-1, 1):
        near = np.clip(inverse + step, 0, len(cells) - 1)
        others += np.where(cells[near] == cell + step, counts[near], 0)
    by_account = order_by(accounts, buckets)  # distinct (account, bucket) rows
    adjacent = (accounts[by_account][1:] == accounts[by_account][:-1]) & (
        buckets[by_account][1:] == buckets[by_account][:-1] + 1
    )
    own = np.ones(len(cell), dtype=np.int64)
    own[by_account[:-1]] += adjacent
    own[by_account[1:]] += adjacent
    others -= own
    member_cluster = label.to_numpy()[activity["account"].to_numpy()]
    own_activity = active.reindex(activity["account"]).to_numpy(np.float64)
    per_cluster = active.groupby(label.to_numpy()[active.index.to_numpy()]).sum()
    cluster_activity = per_cluster.reindex(member_cluster).to_numpy(np.float64)
    # P(some other member is active within a minute) if each spread its activity over the population rhythm
    expected = 1.0 - np.exp(-chance[activity["bucket"].to_numpy()] * (cluster_activity - own_activity))
    out = pd.DataFrame({"observed": others > 0, "expected": expected}).groupby(member_cluster).mean()
    excess = (out["observed"] - out["expected"]) / (1.0 - out["expected"]).clip(lower=1e-9)
    return pd.DataFrame({"lockstep_observed": out["observed"], "lockstep_expected": out["expected"],
                         "lockstep_share": excess.clip(0.0, 1.0)})  # fmt: skip


def _activity(
    data: LinkingInput, label: pd.Series, config: LinkingConfig, topics_given: bool,
    described: np.ndarray | None = None,
) -> pd.DataFrame:  # fmt: skip
    events = _described_rows(data.events[["account", "ts", "topic"]], described)
    by_cluster = events.groupby(label.to_numpy()[events["account"].to_numpy()])
    out = pd.DataFrame({"total_requests": by_cluster.size()})
    out["first_seen"] = pd.to_datetime(by_cluster["ts"].min(), unit="s", utc=True)
    out["last_seen"] = pd.to_datetime(by_cluster["ts"].max(), unit="s", utc=True)
    if topics_given:
        topic = events["topic"].to_numpy()
        known = topic >= 0
        account_topics = pd.DataFrame({"account": events["account"].to_numpy()[known], "topic": topic[known]})
        account_topics = account_topics.drop_duplicates()
        account_topics["cluster"] = label.to_numpy()[account_topics["account"].to_numpy()]
        union = account_topics.groupby("cluster")["topic"].nunique()
        summed = account_topics.groupby("cluster").size()
        out["union_topic_coverage"] = union
        out["mean_member_topics"] = summed / account_topics.groupby("cluster")["account"].nunique()
        # 1.0: members' topic sets are disjoint (a sharded sweep); 1/size: every member covers the same topics
        out["topic_disjointness"] = union / summed
    out = out.join(_lockstep(data, label, config, described))
    return out


def _templates(
    data: LinkingInput, label: pd.Series, templates: TemplateIndex | None, described: np.ndarray | None = None
) -> pd.DataFrame:
    if templates is None:
        return pd.DataFrame(index=pd.Index([], name="cluster_label"))
    family = templates.event_family()
    has_family = family >= 0
    use = pd.DataFrame({"account": data.events["account"].to_numpy()[has_family], "family": family[has_family]})
    use = _described_rows(use, described)
    use["cluster"] = label.to_numpy()[use["account"].to_numpy()]
    members = use.groupby(["cluster", "family"])["account"].transform("nunique")
    use["shared"] = members.to_numpy() >= 2
    out = pd.DataFrame({"template_requests": use.groupby("cluster").size()})
    out["template_request_share"] = use.groupby("cluster")["shared"].mean()
    out["shared_templates"] = use[use["shared"]].groupby("cluster")["family"].nunique()
    return out.fillna({"shared_templates": 0})


def _shared_uses(uses: pd.DataFrame, value: str, label: pd.Series, max_users: float) -> pd.DataFrame:
    """Per cluster, over values (shapes, wrapper marks) that two or more members use and at most ``max_users``
    accounts overall: how many, how many members use one, and the share of members' requests on them (summed
    over values, so at most about 1 for shapes; wrapper marks of one request can add up beyond it)."""
    uses = uses.assign(cluster=label.to_numpy()[uses["account"].to_numpy(np.int64)])
    members = uses.groupby(["cluster", value], sort=False)["account"].transform("size")
    shared = uses[(members.to_numpy() >= 2) & (uses["users"].to_numpy() <= max_users)]
    out = pd.DataFrame(
        {
            "shared": shared.groupby("cluster")[value].nunique(),
            "members": shared.groupby("cluster")["account"].nunique(),
        }
    )
    per_member = shared.groupby(["cluster", "account"])["share"].sum().clip(upper=1.0)
    sizes = label.value_counts()
    out["request_share"] = per_member.groupby(level="cluster").sum() / sizes.reindex(out.index)
    return out


def _harness(data: LinkingInput, label: pd.Series, edges: pd.DataFrame, config: LinkingConfig) -> pd.DataFrame:
    """What one harness leaves on its members' requests: shared exact request shapes, and the members linked by
    a shared wrapper (read from the edges: counting wrappers again would tokenise every prompt a second time)."""
    out = pd.DataFrame(index=pd.Index(label.unique(), name="cluster_label"))
    shapes = account_shapes(data)
    if not shapes.empty:
        found = _shared_uses(shapes, "shape", label, config.popular_size(data.n_active))
        out["shared_request_shapes"] = found["shared"]
        out["members_sharing_request_shape"] = found["members"]
        out["request_shape_request_share"] = found["request_share"]
        shared = shapes.assign(cluster=label.to_numpy()[shapes["account"].to_numpy(np.int64)])
        counted = shared.groupby(["cluster", "shape"]).agg(members=("account", "size"), share=("share", "sum"))
        counted = counted[counted["members"] >= 2].sort_values("share", ascending=False, kind="stable")
        top = counted.reset_index().drop_duplicates("cluster").set_index("cluster")["shape"]
        if not top.empty:
            row_of = shapes.drop_duplicates("shape").set_index("shape")["row"]
            fields = [column for column in SHAPE_FIELDS if column in data.events.columns]
            rows = data.events[fields].iloc[row_of.reindex(top.to_numpy()).to_numpy(np.int64)]
            names = [describe_shape(row) for _, row in rows.iterrows()]
            out["top_shared_request_shape"] = pd.Series(names, index=top.index, dtype="string")
    wrapped = edges[
        edges[weight_column("wrapper")].to_numpy() >= config.min_kind_strength * config.kind_weight("wrapper")
    ]
    a, b = wrapped["a"].to_numpy(np.int64), wrapped["b"].to_numpy(np.int64)
    inside = label.to_numpy()[a] == label.to_numpy()[b]
    if inside.any() and config.kind_weight("wrapper") > 0:
        members = pd.DataFrame({"account": np.concatenate([a[inside], b[inside]])}).drop_duplicates()
        members["cluster"] = label.to_numpy()[members["account"].to_numpy()]
        out["members_sharing_wrapper"] = members.groupby("cluster").size()
    return out


def _questions(
    data: LinkingInput, label: pd.Series, config: LinkingConfig, described: np.ndarray | None = None
) -> pd.DataFrame:
    """Exact questions that two or more members send and at most ``max_question_users`` accounts overall: how
    many, how many members send one, and how many of them no account outside the cluster sends."""
    accounts, questions = account_questions(data)
    if len(accounts) == 0:
        return pd.DataFrame(index=pd.Index([], name="cluster_label"))
    users = np.bincount(questions)
    rare = users[questions] <= config.max_question_users
    use = _described_rows(pd.DataFrame({"account": accounts[rare], "question": questions[rare]}), described)
    use["cluster"] = label.to_numpy()[use["account"].to_numpy()]
    found = _shared_values(use, "question", pd.Series(users))
    out = pd.DataFrame({"shared_questions": found["shared"], "members_sharing_questions": found["members"]})
    if "exclusive" in found.columns:
        out["shared_questions_exclusive"] = found["exclusive"]
    return out


def _schedule(data: LinkingInput, label: pd.Series, locked: pd.DataFrame) -> pd.DataFrame:
    """Per cluster, its most shared (period, phase bin): how many members are locked onto it, the period, the
    members' mean phase into it and their spread (the largest distance of a member's phase from that mean)."""
    columns = ["members_on_shared_schedule", "schedule_period_minutes", "schedule_phase_seconds",
               "schedule_phase_spread_seconds"]  # fmt: skip
    memberships = schedule_memberships(locked)
    if memberships.empty:
        return pd.DataFrame(columns=columns, dtype="float64")
    memberships["cluster"] = label.to_numpy()[memberships["account"].to_numpy(np.int64)]
    counts = memberships.groupby(["cluster", "resource"]).size().rename("members").reset_index()
    top = counts.sort_values(["members", "resource"], ascending=[False, True], kind="stable")
    top = top.drop_duplicates("cluster").set_index("cluster")
    top = top[top["members"] >= 2]
    on = memberships[memberships["resource"].to_numpy() == top["resource"].reindex(memberships["cluster"]).to_numpy()]
    phase = locked.set_index("account")["phase_s"].reindex(on["account"]).to_numpy(np.float64)
    period = on["period_s"].to_numpy(np.float64)
    angle = 2.0 * np.pi * phase / period
    frame = pd.DataFrame({"cluster": on["cluster"].to_numpy(), "cos": np.cos(angle), "sin": np.sin(angle),
                          "period": period})  # fmt: skip
    sums = frame.groupby("cluster")[["cos", "sin"]].sum()
    period_of = frame.groupby("cluster")["period"].first()
    mean = (np.arctan2(sums["sin"], sums["cos"]) % (2.0 * np.pi)) * period_of / (2.0 * np.pi)
    gap = np.abs(phase - mean.reindex(frame["cluster"]).to_numpy())
    frame["distance"] = np.minimum(gap, period - gap)
    return pd.DataFrame({
        "members_on_shared_schedule": top["members"].astype("float64"),
        "schedule_period_minutes": period_of / 60.0,
        "schedule_phase_seconds": mean,
        "schedule_phase_spread_seconds": frame.groupby("cluster")["distance"].max(),
    })  # fmt: skip


def _migration(data: LinkingInput, label: pd.Series, config: LinkingConfig) -> pd.DataFrame:
    switches = model_switches(data, config)
    if switches.empty:
        return pd.DataFrame(index=pd.Index([], name="cluster_label"))
    switches = switches.assign(cluster=label.to_numpy()[switches["account"].to_numpy(np.int64)])
    counts = switches.groupby(["cluster", "model"]).agg(n=("account", "size"), first=("ts", "min"), last=("ts", "max"))
    top = counts.sort_values("n", ascending=False, kind="stable").reset_index().drop_duplicates("cluster")
    top = top.set_index("cluster")
    return pd.DataFrame({"migration_model": top["model"].astype("string"), "migrated_members": top["n"],
                         "migration_spread_hours": (top["last"] - top["first"]) / 3600.0})  # fmt: skip


def _edges(edges: pd.DataFrame, label: pd.Series) -> pd.DataFrame:
    a_label = label.to_numpy()[edges["a"].to_numpy(np.int64)]
    inside = edges[a_label == label.to_numpy()[edges["b"].to_numpy(np.int64)]]
    grouped = inside.groupby(a_label[a_label == label.to_numpy()[edges["b"].to_numpy(np.int64)]])
    out = pd.DataFrame({"internal_edges": grouped.size(), "internal_weight": grouped["weight"].sum()})
    for kind in EDGE_KINDS:
        out[weight_column(kind)] = grouped[weight_column(kind)].sum()
    return out


def _by_code(part: pd.DataFrame, n_clusters: int) -> pd.DataFrame:
    """A part indexed by cluster code → one row per code 0..n_clusters-1 (NaN where the part has none)."""
    if len(part.index):
        part = part.set_axis(pd.Index(part.index.to_numpy().astype(np.int64)))
    return part.reindex(pd.RangeIndex(n_clusters))


def cluster_features(
    data: LinkingInput,
    label: pd.Series,
    edges: pd.DataFrame,
    *,
    templates: TemplateIndex | None,
    topics_given: bool,
    account_risk: pd.Series | None,
    config: LinkingConfig,
    schedules: pd.DataFrame | None = None,
    cores: Cores | None = None,
    min_size: int = 1,
) -> pd.DataFrame:
    """``label``: the cluster label of each account code (position = code).  The parts are computed on
    ``config.threads`` threads, as many at once as ``cores`` allows.

    ``min_size``: only clusters of at least that many accounts are described (a scorer that reads clusters of two
    or more need not pay for 20k singletons); their rows are what describing every cluster gives them."""
    # the parts group a million events by cluster: by an integer code (in label order), not by the label text;
    # they are aligned on the codes too, and labelled at the end (aligning 24k text labels took ~0.3 s)
    codes, names = pd.factorize(label.to_numpy(), sort=True)
    coded = pd.Series(codes.astype(np.int64))
    n_clusters = len(names)
    sizes = np.bincount(codes, minlength=n_clusters).astype(np.int64)
    out = pd.DataFrame({"size": sizes})
    # the heavy parts skip the rows of accounts in clusters not described
    described = (sizes >= min_size)[codes] if min_size > 1 else None
    tasks: list[Callable[[], pd.DataFrame]] = [
        lambda: _activity(data, coded, config, topics_given, described),
        lambda: _signup(data, coded),
        lambda: _infrastructure(data, coded, described),
        lambda: _organisation(data, coded),
        lambda: _templates(data, coded, templates, described),
        lambda: _harness(data, coded, edges, config),
        lambda: _questions(data, coded, config, described),
        lambda: _schedule(data, coded, locked_schedules(data) if schedules is None else schedules),
        lambda: _migration(data, coded, config),
        lambda: _edges(edges, coded),
    ]
    with task_pool(config.threads, cores, "linking-part") as submit:
        parts = [future.result() for future in [submit(task) for task in tasks]]
    # every part aligned on the clusters at once (a left join per part copied the growing frame each time)
    out = pd.concat([out, *(_by_code(part, n_clusters) for part in parts)], axis=1)
    possible = out["size"] * (out["size"] - 1) / 2
    out["internal_edges"] = out["internal_edges"].fillna(0).astype(np.int64)
    out["density"] = (out["internal_edges"] / possible.where(possible > 0)).fillna(0.0)
    fill_zero = [c for c in out.columns if c.endswith("_weight") or c.startswith(("shared_", "members_", "n_"))]
    out[fill_zero] = out[fill_zero].fillna(0)
    out["total_requests"] = out["total_requests"].fillna(0).astype(np.int64)
    if account_risk is not None:
        risk = pd.to_numeric(account_risk, errors="coerce").reindex(data.account_ids).to_numpy(dtype=np.float64)
        high = pd.Series(np.where(np.isnan(risk), np.nan, (risk >= config.high_risk_threshold).astype(np.float64)))
        out["share_high_risk_members"] = high.groupby(codes).mean().reindex(out.index)
        out["mean_member_risk"] = pd.Series(risk).groupby(codes).mean().reindex(out.index)
    kept = sizes >= min_size
    out = out[kept]
    # codes number the labels in sorted order: the frame is sorted by label
    out.index = pd.Index(names[kept], dtype=label.dtype, name="cluster_label")
    # one schema whatever the input: what could not be measured (no topics, no risk, no text) is NaN
    out = out.reindex(columns=list(CLUSTER_FEATURES))
    for column, dtype in CLUSTER_FEATURES.items():
        target = pd.api.types.pandas_dtype(dtype)
        if out[column].dtype != target:
            out[column] = out[column].astype(target)
    return out
