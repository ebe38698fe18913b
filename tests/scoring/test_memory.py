"""keep_freed_memory: a block the process frees stays with it for the next allocation, instead of going back to
the kernel (checked in a child process each, so that this process's allocator is left as it was)."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.scoring import execution, memory, service, worker

ROOT = Path(__file__).resolve().parents[2]

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the setting is glibc malloc's; elsewhere keep_freed_memory leaves the allocator alone",
)

# prints how many MB the resident set shrank by when a 64 MB array was freed
CHILD = """
import sys
import numpy as np
from app.scoring import memory

def resident_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20

if sys.argv[1] == "keep":
    assert memory.keep_freed_memory()
    assert memory.keep_freed_memory(), "a second call reports the setting too"
block = np.ones(64 * 2**20 // 8)
before = resident_mb()
del block
print(before - resident_mb())
"""


def _shrank_mb(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", CHILD, mode], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


@glibc_only
def test_a_freed_block_stays_resident_once_memory_is_kept() -> None:
    assert _shrank_mb("keep") < 8


@glibc_only
def test_without_it_a_freed_block_goes_back_to_the_kernel() -> None:
    # the control: the check above would fail on glibc's defaults (large blocks are mapped and unmapped one by one)
    assert _shrank_mb("default") > 56


@pytest.mark.parametrize("keep", [True, False])
def test_a_run_keeps_memory_only_when_configured(
    keep: bool, sessions: sessionmaker[Session], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []
    monkeypatch.setattr(memory, "keep_freed_memory", lambda: calls.append(True) or True)
    monkeypatch.setattr(execution, "execute_run", lambda **kwargs: None)
    with sessions.begin() as session:
        service.request_run(session=session, mode="full", requested_by="test")
    assert worker.run_once(sessions, settings.model_copy(update={"detection_keep_memory": keep})) is not None
    assert calls == ([True] if keep else [])
