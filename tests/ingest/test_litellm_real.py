"""A real LiteLLM (its own venv, made by scripts/litellm_venv.sh) logs to a running distillguard."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from tests.ingest.helpers import rows

ROOT = Path(__file__).resolve().parents[2]
LITELLM_PYTHON = ROOT / ".venv-litellm" / "bin" / "python"
SENDER = Path(__file__).with_name("litellm_sender.py")

pytestmark = pytest.mark.litellm


@pytest.fixture
def litellm_python() -> Path:
    if not LITELLM_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must run the real-LiteLLM test: scripts/test.sh should have run scripts/litellm_venv.sh")
        pytest.skip("no LiteLLM venv: run `bash scripts/litellm_venv.sh` to create .venv-litellm")
    return LITELLM_PYTHON


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False)
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert instance.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


def test_generic_api_logger_events_arrive_with_identity_ip_ua_and_messages(
    litellm_python: Path, server: str, make_key: Callable[[str], str], db_session: Session
) -> None:
    key = make_key("ingest")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI", "DISTILLGUARD"))}
    done = subprocess.run([str(litellm_python), str(SENDER), server, key], env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0 and "sent" in done.stdout, done.stderr[-3000:]
    stored = rows(db_session, "SELECT account_id, ip, user_agent, prompt_text, system_text, end_user_id, "
                              "api_key_id, model, status, cot_score FROM events ORDER BY ip, user_agent")  # fmt: skip
    expected = sorted(
        (f"{fmt}-account-{i % 2}", f"203.0.113.{10 + i}", f"test-client/{fmt}",
         f"{fmt} question {i}: explain your reasoning step by step")
        for fmt, n in (("json_array", 3), ("ndjson", 2)) for i in range(n)
    )  # fmt: skip
    assert sorted(tuple(r[:4]) for r in stored) == expected
    key_hash = hashlib.sha256(b"raw-token-without-prefix-0123456789").hexdigest()
    for row in stored:
        assert row[4] == "Answer briefly." and row[5] == row[0]
        assert row[6] == key_hash  # the raw token LiteLLM leaked is never stored
        assert row[7] == "gpt-4o-mini" and row[8] == 200 and row[9] > 0.3
