"""A local webhook receiver on 127.0.0.1 that records what it gets and answers from a script of status codes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    script: list[int]  # status code per call; the last one repeats
    calls: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def status_for(self, n: int) -> int:
        return self.script[min(n, len(self.script) - 1)]


@contextmanager
def receiver(*script: int) -> Iterator[Receiver]:
    state = Receiver(url="", script=list(script) or [200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = state.status_for(len(state.calls))
            state.calls.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            state.arrived.set()

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
