"""A real HTTP webhook receiver on loopback that verifies every request (standardwebhooks)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from standardwebhooks import Webhook


@dataclass
class Received:
    headers: dict
    body: bytes
    verified: bool
    verified_with: list[int]  # indexes of the secrets that verified it
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """``behaviour(n)`` (n = 0-based request count) returns (status, headers, delay_s)."""

    def __init__(self, secrets: list[str] | Callable[[], list[str]],
                 behaviour: Callable[[int], tuple[int, dict, float]] = lambda n: (200, {}, 0.0)) -> None:
        self.secrets = secrets if callable(secrets) else (lambda: secrets)
        self.behaviour = behaviour
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                ok = []
                for i, secret in enumerate(receiver.secrets()):
                    try:
                        Webhook(secret).verify(body, headers)
                        ok.append(i)
                    except Exception:  # noqa: BLE001 - record, do not crash the receiver
                        pass
                with receiver._lock:
                    n = len(receiver.requests)
                    receiver.requests.append(Received(headers, body, bool(ok), ok))
                status, extra, delay = receiver.behaviour(n)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for k, v in extra.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up (timeout test)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
