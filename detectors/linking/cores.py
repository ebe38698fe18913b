"""How many of linking's threads may compute at once, when the caller computes something else beside it.

Linking runs its kinds of evidence, and its cluster features' parts, on a pool of ``LinkingConfig.threads`` threads.
A caller that runs linking on one core while it computes other work on the other (the detection worker computes the
features meanwhile) gives linking a :class:`Cores` of one, and lends it the second core when its own work is done:
from then on, two of linking's tasks run at once.  A task waits for a core before it starts and gives it back when
it ends; tasks never wait for each other, so nothing can deadlock on the cores.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


class Cores:
    """A count of cores linking's tasks may use at once, which the caller can raise while linking runs."""

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError("linking needs at least one core")
        self._free = threading.Semaphore(count)

    def lend(self, count: int = 1) -> None:
        """``count`` more cores from now on."""
        self._free.release(count)

    def run(self, task: Callable[[], T]) -> T:
        """``task()`` on a core: waits for one to be free."""
        with self._free:
            return task()


def on_core(cores: Cores | None, task: Callable[[], T]) -> Callable[[], T]:
    """``task``, made to wait for a core of ``cores`` (as it is, without cores)."""
    if cores is None:
        return task
    return lambda: cores.run(task)


@contextmanager
def task_pool(threads: int, cores: Cores | None, name: str) -> Iterator[Callable[[Callable[[], Any]], Future[Any]]]:
    """A ``submit(task)`` onto ``threads`` threads whose tasks wait for a core of ``cores``; waits for them on exit."""
    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix=name) as pool:
        yield lambda task: pool.submit(on_core(cores, task))
