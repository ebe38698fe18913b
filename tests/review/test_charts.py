"""The data behind the cluster page's charts, checked against what was seeded."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.review import charts
from app.review.layout import spring_layout
from app.review.redact import redact
from tests.review.seed import T0, seed_campaign, seed_population


def test_activity_counts_every_member_request_in_its_hour(db_session: Session) -> None:
    seed_population(db_session)
    seeded = seed_campaign(db_session)
    db_session.commit()
    activity = charts.activity(session=db_session, cluster_id=seeded.cluster_id)
    assert activity is not None
    assert sum(activity.cluster) == seeded.n_events
    assert activity.first_hour == int(T0.timestamp()) // 3600, "the first day shown starts at midnight UTC"
    assert len(activity.cluster) == len(activity.population) == activity.n_days * 24
    night = sum(n for day in activity.by_day(activity.cluster) for n in day[2:4])
    assert night == seeded.n_events, "the campaign only works between 02:00 and 04:00"
    assert all(p >= c for p, c in zip(activity.population, activity.cluster, strict=True)), "everyone includes them"
    assert sum(activity.population) > sum(activity.cluster)
    assert charts.activity(session=db_session, cluster_id="nobody") is None


def test_capability_mix_and_topic_coverage_compare_with_the_population(db_session: Session) -> None:
    seed_population(db_session, n_accounts=20)
    seeded = seed_campaign(db_session)
    db_session.commit()
    mix = charts.capability_mix(session=db_session, cluster_id=seeded.cluster_id)
    assert mix is not None and mix.labels[-1] == "other"
    assert math.isclose(sum(mix.cluster), 1.0) and math.isclose(sum(mix.population), 1.0)
    assert mix.cluster[mix.labels.index("reasoning")] >= 0.5, "step-by-step reasoning prompts dominate"
    assert mix.cluster_requests == seeded.n_events

    topics = charts.topic_coverage(session=db_session, cluster_id=seeded.cluster_id)
    assert topics is not None and 1 <= len(topics.labels) <= 10
    assert topics.cluster == sorted(topics.cluster, reverse=True)
    assert sum(topics.cluster) <= 1.0 + 1e-9 and all(0 <= share <= 1 for share in topics.population)
    assert all(label.strip() for label in topics.labels)
    assert "population topics touched" in topics.note


def test_infrastructure_graph_links_members_through_what_they_share(db_session: Session) -> None:
    seed_population(db_session)
    seeded = seed_campaign(db_session, n_accounts=5)
    db_session.commit()
    graph = charts.infrastructure(session=db_session, cluster_id=seeded.cluster_id, size=5)
    accounts = [n for n in graph.nodes if n.kind == "account"]
    assert sorted(n.key for n in accounts) == sorted(seeded.members)
    by_key = {n.key: i for i, n in enumerate(graph.nodes)}
    for resource in (seeded.shared_ip, seeded.payment):
        linked = {graph.nodes[a].key for a, b in graph.edges if b == by_key[resource]}
        assert linked == set(seeded.members), resource
    assert not any(n.kind == "ip" and n.key.startswith("192.0.2.") for n in graph.nodes), "unshared IPs are left out"
    assert all(0 <= n.x <= 1 and 0 <= n.y <= 1 for n in graph.nodes)
    assert graph.kinds["ip"] == 1 and graph.kinds["payment"] == 1


def test_layout_is_deterministic_and_inside_the_unit_square() -> None:
    edges = [(0, 5), (1, 5), (2, 5), (3, 6), (4, 6)]
    first = spring_layout(7, edges)
    assert first == spring_layout(7, edges)
    assert all(0 <= x <= 1 and 0 <= y <= 1 for x, y in first)
    hub, leaf, stranger = first[5], first[0], first[3]
    assert math.dist(hub, leaf) < math.dist(hub, stranger), "linked nodes sit closer than unlinked ones"
    assert spring_layout(0, []) == [] and spring_layout(1, []) == [(0.5, 0.5)]


@pytest.mark.parametrize(
    ("text", "hidden", "shown"),
    [
        ("mail me at jane.doe@corp.example please", "jane.doe@corp.example", "[email]"),
        ("use sk-proj-abcdefghijklmnop1234 for auth", "sk-proj-abcdefghijklmnop1234", "[api key]"),
        ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz", "Bearer [secret]"),
        ("card 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111", "[number]"),
        ("password=hunter2hunter2", "hunter2hunter2", "password=[secret]"),
        ("key AKIAABCDEFGHIJKLMNOP", "AKIAABCDEFGHIJKLMNOP", "[api key]"),
    ],
)
def test_redaction(text: str, hidden: str, shown: str) -> None:
    assert hidden not in redact(text)
    assert shown in redact(text)


def test_redaction_keeps_ordinary_text_and_caps_length() -> None:
    prompt = "Explain step by step why the sky is blue, in 3 sentences."
    assert redact(prompt) == prompt
    assert len(redact("x" * 5000, limit=100)) == 100


def test_activity_of_a_huge_cluster_is_drawn_from_its_riskiest_members(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = seed_campaign(db_session, n_accounts=6, events_each=10)
    db_session.commit()
    monkeypatch.setattr("app.review.evidence_repository.ACTIVITY_ACCOUNTS", 2)
    activity = charts.activity(session=db_session, cluster_id=seeded.cluster_id)
    assert activity is not None and sum(activity.cluster) == 2 * 10


def test_chart_data_api(client: TestClient, auth_headers: Callable[[str], dict[str, str]], db_session: Session) -> None:
    seed_population(db_session)
    seeded = seed_campaign(db_session)
    db_session.commit()
    response = client.get(f"/v1/clusters/{seeded.cluster_id}/charts", headers=auth_headers("analyst"))
    assert response.status_code == 200, response.text
    data = response.json()
    assert sum(data["activity"]["cluster"]) == seeded.n_events
    assert data["activity"]["hours"] == len(data["activity"]["population"])
    assert data["capabilities"]["labels"][-1] == "other" and data["topics"]["labels"]
    kinds = {node["kind"] for node in data["graph"]["nodes"]}
    assert kinds == {"account", "ip", "payment", "template"}
    assert all(len(edge) == 2 for edge in data["graph"]["edges"])
    assert client.get("/v1/clusters/nope/charts", headers=auth_headers("analyst")).status_code == 404
