"""Logging in to the console through its form, as a browser would."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client: TestClient, key: str) -> str:
    """Log in through the form; returns the CSRF token of the logged-in session."""
    token = csrf_of(client.get("/console/login").text)
    response = client.post("/console/login", data={"api_key": key, "csrf_token": token, "next": "/console"},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/console").text)
