"""The data behind a cluster's charts: activity by hour, capability and topic coverage, shared infrastructure.

Each chart compares the cluster with the whole population, because "busy at 03:00" or "mostly
coding" only means something against what everybody else does. Population figures are sampled
and cached per data version (the newest event id), so opening many clusters costs one scan.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import numpy as np
import orjson
import pandas as pd
from sqlalchemy.orm import Session

from app.ingest.models import Event
from app.review import evidence_repository as evidence
from app.review.layout import spring_layout
from app.review.redact import redact
from app.scoring.execution import STATE_ARTIFACT, STATE_FORMAT, STATE_META
from app.scoring.models import Cluster
from detectors import pipeline
from detectors.features.tokens import CAPABILITIES, capability_of_docs, unique_docs
from detectors.features.topics import TopicModel

log = logging.getLogger(__name__)

MAX_DAYS = 14
CLUSTER_TEXT_SAMPLE = 4000
POPULATION_TEXT_SAMPLE = 20000
N_TOPICS = 16
POPULATION_TTL_SECONDS = 300.0
MAX_GRAPH_ACCOUNTS = 40
MAX_GRAPH_RESOURCES = {"ip": 20, "payment": 8, "template": 8}

T = TypeVar("T")
_cache: dict[Hashable, tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def _cached(key: Hashable, build: Callable[[], T]) -> T:
    """Population figures change slowly, while live traffic changes the newest event id every second: a TTL."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]  # type: ignore[no-any-return]
    value = build()
    with _cache_lock:
        if len(_cache) > 32:
            _cache.clear()
        _cache[key] = (now + POPULATION_TTL_SECONDS, value)
    return value


def clear_cache() -> None:
    """Forget cached population figures (tests that reuse a database, tools that rewrite events)."""
    with _cache_lock:
        _cache.clear()


def _database(session: Session) -> str:
    return str(session.get_bind().engine.url)


@dataclass(frozen=True)
class Activity:
    """Requests per hour (index: hours since the epoch) over the cluster's last ``MAX_DAYS`` days of activity."""

    first_hour: int  # midnight UTC of the first day shown
    cluster: list[int]
    population: list[int]

    @property
    def n_days(self) -> int:
        return len(self.cluster) // 24

    def by_day(self, counts: list[int]) -> list[list[int]]:
        return [counts[d * 24 : (d + 1) * 24] for d in range(self.n_days)]


def activity(*, session: Session, cluster_id: str) -> Activity | None:
    first, last, n = evidence.cluster_event_span(session=session, cluster_id=cluster_id)
    if not n or first is None or last is None:
        return None
    start = max(first, last - MAX_DAYS * 86400)
    first_hour = int(start) // 86400 * 24
    n_hours = (int(last) // 86400 * 24 + 24) - first_hour
    lo, hi = float(first_hour * 3600), float((first_hour + n_hours) * 3600)
    cluster = evidence.hourly_counts(session=session, cluster_id=cluster_id, start=lo, end=hi)
    population = _cached(
        ("hourly", _database(session), first_hour, n_hours),
        lambda: evidence.hourly_counts(session=session, cluster_id=None, start=lo, end=hi),
    )
    hours = range(first_hour, first_hour + n_hours)
    return Activity(first_hour, [cluster.get(h, 0) for h in hours], [population.get(h, 0) for h in hours])


@dataclass(frozen=True)
class Coverage:
    """Share of requests per category, for the cluster and the population (same category order)."""

    labels: list[str]
    cluster: list[float]
    population: list[float]
    cluster_requests: int
    population_requests: int
    note: str = ""


def _shares(values: np.ndarray, n: int) -> np.ndarray:
    counts = np.bincount(values[values >= 0], minlength=n).astype(float)
    return counts / counts.sum() if counts.sum() else counts


def _population_sample(session: Session) -> list[tuple[str | None, str | None]]:
    return _cached(
        ("text", _database(session)),
        lambda: evidence.text_sample(session=session, cluster_id=None, limit=POPULATION_TEXT_SAMPLE),
    )


def capability_mix(*, session: Session, cluster_id: str) -> Coverage | None:
    cluster = evidence.text_sample(session=session, cluster_id=cluster_id, limit=CLUSTER_TEXT_SAMPLE)
    population = _population_sample(session)
    if not cluster or not population:
        return None

    def per_request(sample: list[tuple[str | None, str | None]]) -> np.ndarray:
        codes, docs = unique_docs(pd.Series([t for t, _ in sample], dtype="string"))
        return np.where(codes >= 0, capability_of_docs(docs)[np.clip(codes, 0, None)], -1)

    n = len(CAPABILITIES)
    return Coverage(
        list(CAPABILITIES), _shares(per_request(cluster), n).tolist(), _shares(per_request(population), n).tolist(),
        len(cluster), len(population),
    )  # fmt: skip


@dataclass(frozen=True)
class _Topics:
    model: TopicModel
    labels: list[str]
    population: np.ndarray


_STOPWORDS = frozenset({
    "the", "a", "an", "and", "or", "of", "to", "in", "on", "for", "with", "about", "from", "by", "as", "at", "is",
    "are", "be", "it", "this", "that", "your", "you", "me", "my", "i", "can", "what", "how", "why", "then", "than",
    "into", "over", "under", "its", "their", "them", "they", "we", "our", "us", "please", "give", "write", "explain",
})  # fmt: skip
_WORD = re.compile(r"[a-z][a-z'-]{2,}")


def _topic_label(texts: list[str], overall: Counter[str], n_overall: int) -> str | None:
    """The words most typical of a topic's prompts compared with all prompts (None without retained text)."""
    if not texts:
        return None
    inside = Counter(w for text in texts for w in set(_WORD.findall(text.lower())) if w not in _STOPWORDS)
    lift = {w: n / len(texts) - overall[w] / n_overall for w, n in inside.items() if n / len(texts) >= 0.15}
    best = sorted(lift, key=lambda w: (-lift[w], w))[:3]
    return redact(" · ".join(best), limit=60) if best else None


def _detection_topic_model(session: Session) -> tuple[str | None, TopicModel | None]:
    """The topic model the last detection run fitted, so the chart's topics are the ones detection scored."""
    version = evidence.artifact_version(session=session, name=STATE_ARTIFACT)
    if version is None:
        return None, None

    def load() -> TopicModel | None:
        stored = evidence.artifact_payload(session=session, name=STATE_META)
        try:
            meta = orjson.loads(stored) if stored else {}
            payload = evidence.artifact_payload(session=session, name=STATE_ARTIFACT)
            if meta.get("format") != STATE_FORMAT or payload is None:
                return None
            return pipeline.topic_model_of(pipeline.load_state(payload, ip_intel=None))
        except Exception:  # a state written by another version: fit a model of our own instead
            log.warning("cannot read the detection state's topic model", exc_info=True)
            return None

    return version, _cached(("detection-topics", _database(session), version), load)


def _topics_of(model: TopicModel | None, sample: list[tuple[str | None, str | None]]) -> _Topics:
    frame = pd.DataFrame({"token_hashes": pd.Series([t for t, _ in sample], dtype="string")})
    if model is None:
        model = TopicModel(n_topics=N_TOPICS, n_components=24, random_state=0).fit(frame)
    topics = model.transform_events(frame).to_numpy()
    texts = [text for _, text in sample if text]
    overall = Counter(w for text in texts for w in set(_WORD.findall(text.lower())))
    labels = []
    for topic in range(model.n_topics_):
        members = [text for (_, text), t in zip(sample, topics, strict=True) if t == topic and text]
        labels.append(_topic_label(members, overall, max(len(texts), 1)) or f"topic {topic + 1}")
    return _Topics(model, labels, _shares(topics, model.n_topics_))


def topic_coverage(*, session: Session, cluster_id: str, max_bars: int = 10) -> Coverage | None:
    """The topics the cluster asks about most, beside how often the population asks about them."""
    cluster = evidence.text_sample(session=session, cluster_id=cluster_id, limit=CLUSTER_TEXT_SAMPLE)
    population = _population_sample(session)
    if not cluster or len(population) < 2:
        return None
    model_version, model = _detection_topic_model(session)
    fitted = _cached(("topics", _database(session), model_version), lambda: _topics_of(model, population))
    frame = pd.DataFrame({"token_hashes": pd.Series([t for t, _ in cluster], dtype="string")})
    shares = _shares(fitted.model.transform_events(frame).to_numpy(), fitted.model.n_topics_)
    order = [int(i) for i in np.argsort(-shares, kind="stable") if shares[i] > 0][:max_bars]
    touched = int((shares > 0).sum())
    return Coverage(
        [fitted.labels[i] for i in order], [float(shares[i]) for i in order],
        [float(fitted.population[i]) for i in order], len(cluster), len(population),
        note=f"{touched} of {fitted.model.n_topics_} population topics touched",
    )  # fmt: skip


@dataclass(frozen=True)
class GraphNode:
    key: str
    kind: str  # account | ip | payment | template
    label: str
    x: float
    y: float
    risk: float | None = None
    accounts: int = 1  # accounts linked to a resource
    labelled: bool = False  # the most shared resources carry a text label; the others only a tooltip


@dataclass(frozen=True)
class Graph:
    nodes: list[GraphNode]
    edges: list[tuple[int, int]]
    hidden_resources: int = 0
    accounts_shown: int = 0
    accounts_total: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


def infrastructure(*, session: Session, cluster_id: str, size: int) -> Graph:
    """Accounts and the IPs, payment fingerprints and prompt templates two or more of them share."""
    members = evidence.members(session=session, cluster_id=cluster_id, limit=MAX_GRAPH_ACCOUNTS)
    ids = [m.account_id for m in members]
    links: list[tuple[str, str, str]] = [(a, "ip", v) for a, v, _ in evidence.account_links(
        session=session, account_ids=ids, column=Event.ip)]  # fmt: skip
    links += [(a, "template", v) for a, v, _ in evidence.account_links(
        session=session, account_ids=ids, column=Event.template_hash)]  # fmt: skip
    links += [(m.account_id, "payment", m.payment_fingerprint) for m in members if m.payment_fingerprint]
    sharing: dict[tuple[str, str], set[str]] = {}
    for account, kind, value in links:
        sharing.setdefault((kind, value), set()).add(account)
    shared = sorted(((k, a) for k, a in sharing.items() if len(a) >= 2), key=lambda item: (-len(item[1]), item[0]))
    per_kind: Counter[str] = Counter()
    kept = []
    for resource, accounts in shared:
        per_kind[resource[0]] += 1
        if per_kind[resource[0]] <= MAX_GRAPH_RESOURCES[resource[0]]:
            kept.append((resource, accounts))
    risk = {m.account_id: m.risk_score for m in members}
    keys = [("account", a) for a in ids] + [resource for resource, _ in kept]
    index = {key: i for i, key in enumerate(keys)}
    edges = [(index[("account", a)], index[resource]) for resource, accounts in kept for a in sorted(accounts)]
    positions = spring_layout(len(keys), edges)
    nodes = []
    for rank, ((kind, value), (x, y)) in enumerate(zip(keys, positions, strict=True)):
        if kind == "account":
            nodes.append(GraphNode(value, kind, value, x, y, risk=risk.get(value)))
        else:
            label = value if kind == "ip" else value[:10]
            nodes.append(GraphNode(value, kind, label, x, y, accounts=len(sharing[(kind, value)]),
                                   labelled=rank - len(ids) < 10))  # fmt: skip
    kinds = Counter(kind for (kind, _), _ in kept)
    return Graph(nodes, edges, len(shared) - len(kept), len(ids), size, dict(kinds))


def chart_data(*, session: Session, cluster: Cluster) -> dict[str, Any]:
    """All four charts of a cluster as plain JSON-able data."""
    hourly = activity(session=session, cluster_id=cluster.cluster_id)
    capabilities = capability_mix(session=session, cluster_id=cluster.cluster_id)
    topics = topic_coverage(session=session, cluster_id=cluster.cluster_id)
    graph = infrastructure(session=session, cluster_id=cluster.cluster_id, size=cluster.size)
    return {
        "cluster_id": cluster.cluster_id,
        "activity": None if hourly is None else {
            "first_hour_epoch": hourly.first_hour * 3600, "hours": len(hourly.cluster),
            "cluster": hourly.cluster, "population": hourly.population,
        },
        "capabilities": None if capabilities is None else asdict(capabilities),
        "topics": None if topics is None else asdict(topics),
        "graph": {
            "nodes": [asdict(node) for node in graph.nodes], "edges": [list(edge) for edge in graph.edges],
            "accounts_shown": graph.accounts_shown, "accounts_total": graph.accounts_total,
            "hidden_resources": graph.hidden_resources,
        },
    }  # fmt: skip
