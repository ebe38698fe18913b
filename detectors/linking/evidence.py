"""Evidence an analyst can read: for each cluster, the kinds of edges that hold it together, in plain words.

One entry per kind that carries weight inside the cluster, strongest first, each with the sentence, the headline
number (``value``) and the figures behind it (``stats``), e.g. "41 accounts share 3 payment fingerprints".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from detectors.linking.config import EDGE_KINDS
from detectors.linking.graph import weight_column

Entry = dict[str, Any]
# A kind carrying less than this share of a cluster's internal edge weight does not hold it together: not told.
MIN_WEIGHT_SHARE = 0.05
Row = pd.Series


def _num(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(number) else number


def _plural(n: float, word: str, plural: str | None = None) -> str:
    count = round(n)
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"


def _exclusive_phrase(exclusive: float, shared: float, noun: str) -> str:
    if exclusive >= shared:
        return f"no account outside the cluster uses {'it' if shared == 1 else 'any of them'}"
    if exclusive == 0:
        return f"{'it is' if shared == 1 else 'they are'} also used outside the cluster"
    return f"{exclusive / shared:.0%} of these {noun}s are used by no account outside the cluster"


def _payment(row: Row) -> Entry | None:
    members, cards = _num(row.get("members_sharing_payment")), _num(row.get("shared_payment_fingerprints"))
    if members < 2:
        return None
    text = f"{_plural(members, 'account')} share {_plural(cards, 'payment fingerprint')}"
    return {"value": int(cards), "text": text, "stats": {"members": int(members), "fingerprints": int(cards)}}


def _ip(row: Row) -> Entry | None:
    members, shared = _num(row.get("members_on_shared_ips")), _num(row.get("shared_ips"))
    if members < 2:
        return None
    pool, exclusive = _num(row.get("n_ips")), _num(row.get("shared_ips_exclusive"))
    if shared >= 20:
        text = f"{_plural(members, 'account')} rotate through one pool of {_plural(pool, 'IP')}"
    else:
        text = f"{_plural(members, 'account')} share {_plural(shared, 'IP address', 'IP addresses')}"
    if shared:
        text += f"; {_exclusive_phrase(exclusive, shared, 'IP')}"
    stats = {"members": int(members), "shared_ips": int(shared), "ips": int(pool), "exclusive": int(exclusive)}
    return {"value": int(shared), "text": text, "stats": stats}


def _subnet(row: Row) -> Entry | None:
    members = _num(row.get("members_on_shared_ips"))
    if members >= 2:
        return None  # said better by the IP sentence
    return {"value": None, "text": "accounts come from the same /24 (or /48) networks at the same times", "stats": {}}


def _client(row: Row) -> Entry | None:
    members, combos = _num(row.get("members_sharing_client")), _num(row.get("shared_clients"))
    if members < 2:
        return None
    outside = _num(row.get("shared_client_outside_accounts"))
    text = f"{_plural(members, 'account')} use {_plural(combos, 'uncommon TLS fingerprint + user-agent combination')}"
    text += (
        "; no account outside the cluster does"
        if outside == 0
        else f", seen on only {_plural(outside, 'other account')}"
    )
    return {"value": int(combos), "text": text, "stats": {"members": int(members), "combinations": int(combos)}}


def _signup(row: Row) -> Entry | None:
    spread, size = _num(row.get("signup_spread_hours")), _num(row.get("size"))
    share, key = _num(row.get("top_signup_key_share")), row.get("top_signup_key")
    channel, _, shape = str(key).partition("|") if isinstance(key, str) else ("?", "", "?")
    members = share * size
    text = (
        f"{_plural(members, 'account')} signed up through '{channel}' with look-alike e-mail domains ({shape}); "
        f"all members signed up within {spread:,.1f} hours"
    )
    stats = {"members": int(members), "channel": channel, "email_shape": shape, "spread_hours": spread}
    return {"value": round(spread, 2), "text": text, "stats": stats}


def _template(row: Row) -> Entry | None:
    templates, share = _num(row.get("shared_templates")), _num(row.get("template_request_share"))
    if templates < 1:
        return None
    requests = _num(row.get("template_requests"))
    text = f"prompts follow {_plural(templates, 'shared template')} ({share:.0%} of {_plural(requests, 'request')})"
    return {"value": int(templates), "text": text, "stats": {"templates": int(templates), "request_share": share}}


def _request_shape(row: Row) -> Entry | None:
    members, shapes = _num(row.get("members_sharing_request_shape")), _num(row.get("shared_request_shapes"))
    if members < 2:
        return None
    share, top = _num(row.get("request_shape_request_share")), row.get("top_shared_request_shape")
    text = f"{_plural(members, 'account')} send {_plural(shapes, 'uncommon combination')} of request parameters"
    if isinstance(top, str) and top:
        text += f" (e.g. {top})"
    text += f" on {share:.0%} of their requests"
    stats = {"members": int(members), "shapes": int(shapes), "request_share": share, "example": str(top)}
    return {"value": int(shapes), "text": text, "stats": stats}


def _wrapper(row: Row) -> Entry | None:
    members = _num(row.get("members_sharing_wrapper"))
    if members < 2:
        return None
    text = (
        f"{_plural(members, 'account')} wrap their prompts in the same uncommon fixed words "
        "(an opening, a closing or a system prompt)"
    )
    return {"value": int(members), "text": text, "stats": {"members": int(members)}}


def _question(row: Row) -> Entry | None:
    members, shared = _num(row.get("members_sharing_questions")), _num(row.get("shared_questions"))
    if members < 2 or shared < 1:
        return None
    exclusive = _num(row.get("shared_questions_exclusive"))
    what = "the same uncommon question" if shared == 1 else f"the same {_plural(shared, 'uncommon question')}"
    text = f"{_plural(members, 'account')} send {what} word for word"
    text += f"; {_exclusive_phrase(exclusive, shared, 'question')}"
    stats = {"members": int(members), "questions": int(shared), "exclusive": int(exclusive)}
    return {"value": int(shared), "text": text, "stats": stats}


def _schedule(row: Row) -> Entry | None:
    members, period = _num(row.get("members_on_shared_schedule")), _num(row.get("schedule_period_minutes"))
    if members < 2 or period <= 0:
        return None
    phase, spread = _num(row.get("schedule_phase_seconds")), _num(row.get("schedule_phase_spread_seconds"))
    minutes, seconds = divmod(round(phase), 60)
    text = (
        f"{_plural(members, 'account')} fire on one scheduler's clock: every {period:g} minutes, "
        f"{minutes}:{seconds:02d} into each period, all within {spread:,.0f} seconds of it"
    )
    stats = {"members": int(members), "period_minutes": period, "phase_seconds": round(phase, 1),
             "spread_seconds": round(spread, 1)}  # fmt: skip
    return {"value": int(members), "text": text, "stats": stats}


def _sync(row: Row) -> Entry | None:
    share, observed, expected = (_num(row.get(c)) for c in ("lockstep_share", "lockstep_observed", "lockstep_expected"))
    text = (
        f"accounts act in lockstep: {observed:.0%} of their active minutes coincide with another member's "
        f"(±1 minute), against {expected:.0%} by chance"
    )
    stats = {"lockstep_share": share, "observed": observed, "expected": expected}
    return {"value": round(share, 3), "text": text, "stats": stats}


def _coverage(row: Row) -> Entry | None:
    union, disjoint = _num(row.get("union_topic_coverage")), _num(row.get("topic_disjointness"))
    if union < 1:
        return None
    text = (
        f"members cover {_plural(union, 'topic')} between them with little overlap "
        f"({disjoint:.0%} of their topic sets are distinct): a sharded sweep"
    )
    return {"value": int(union), "text": text, "stats": {"topics": int(union), "disjointness": disjoint}}


def _migration(row: Row) -> Entry | None:
    members, model = _num(row.get("migrated_members")), row.get("migration_model")
    if members < 2:
        return None
    spread = _num(row.get("migration_spread_hours"))
    text = f"{_plural(members, 'account')} moved to {model} within {spread:,.1f} hours of each other"
    return {"value": int(members), "text": text, "stats": {"members": int(members), "model": str(model),
                                                          "spread_hours": spread}}  # fmt: skip


SENTENCES: dict[str, Callable[[Row], Entry | None]] = {
    "payment": _payment, "ip": _ip, "subnet": _subnet, "tls_ua": _client, "signup": _signup,
    "template": _template, "request_shape": _request_shape, "wrapper": _wrapper, "question": _question,
    "schedule": _schedule, "sync": _sync, "coverage": _coverage, "migration": _migration,
}  # fmt: skip


def _striking(kind: str, row: Row) -> bool:
    """Worth telling even when other kinds carry most of the weight: most requests on shared templates, or most
    activity in lockstep."""
    if kind == "template":
        return _num(row.get("template_request_share")) >= 0.5
    if kind == "sync":
        return _num(row.get("lockstep_share")) >= 0.5
    return False


def cluster_evidence(features: pd.DataFrame) -> dict[str, list[Entry]]:
    """Label → evidence entries (``kind``, ``text``, ``value``, ``stats``, ``weight``); empty for singletons."""
    # the labels as a list first: iterating a string index element by element costs ~4 us a label
    evidence: dict[str, list[Entry]] = {label: [] for label in features.index.astype(str).tolist()}
    for label, row in features[features["size"] >= 2].iterrows():
        entries: list[Entry] = []
        if _num(row["size"]) >= 2:
            weights = {kind: _num(row.get(weight_column(kind))) for kind in EDGE_KINDS}
            total = sum(weights.values())
            for kind in sorted(EDGE_KINDS, key=lambda k: -weights[k]):
                if weights[kind] <= 0 or (weights[kind] < MIN_WEIGHT_SHARE * total and not _striking(kind, row)):
                    continue
                entry = SENTENCES[kind](row)
                if entry is not None:
                    entries.append({"kind": kind, **entry, "weight": round(weights[kind], 3)})
            org = _num(row.get("same_org_share"))
            if org >= 0.5:
                text = f"{org:.0%} of the accounts belong to one organisation ({row.get('top_org')})"
                entries.append({"kind": "organisation", "text": text, "value": round(org, 3),
                                "stats": {"org": str(row.get("top_org")), "share": org}, "weight": 0.0})  # fmt: skip
        evidence[str(label)] = entries
    return evidence
