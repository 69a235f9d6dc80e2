"""A local stand-in for the model hub's HTTP API, for ``voxfarm models pull`` tests (HF_ENDPOINT).

It answers what huggingface_hub calls: ``GET /api/models/{repo}/revision/{rev}`` (``?blobs=true``:
siblings with size and LFS sha256), ``HEAD``/``GET /{repo}/resolve/{rev}/{path}`` (X-Repo-Commit,
X-Linked-Etag = the sha256, X-Linked-Size, and byte ranges), and plain ``GET /files/{name}`` for
files published outside the hub.  ``cut_once`` (path suffixes) makes the first GET of a file stop half-way (the
connection closes), so a test can watch the client resume with a Range request; every request is
logged in ``requests``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.files: dict[str, bytes] = {}
        self.cut_once: set[str] = set()
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:
                hub._serve(self, body=False)

            def do_GET(self) -> None:
                hub._serve(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def add_repo(self, repo: str, files: dict[str, Path | bytes], prefix: str = "") -> None:
        self.repos[repo] = {prefix + name: (data.read_bytes() if isinstance(data, Path) else data)
                            for name, data in files.items()}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def gets(self, suffix: str) -> list[str | None]:
        """The Range headers of the GETs whose path ends with ``suffix`` (None: a whole-file GET)."""
        return [rng for method, path, rng in self.requests if method == "GET" and path.endswith(suffix)]

    # -- answering --------------------------------------------------------------------------------
    def _serve(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        path = h.path.split("?")[0]
        self.requests.append((h.command, path, h.headers.get("Range")))
        info = re.fullmatch(r"/api/models/(.+?)/revision/([^/]+)", path)
        if info and info.group(1) in self.repos:
            siblings = [{"rfilename": name, "size": len(data), "blobId": hashlib.sha1(data).hexdigest(),
                         "lfs": {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 130}}
                        for name, data in sorted(self.repos[info.group(1)].items())]
            self._send(h, 200, json.dumps({"id": info.group(1), "sha": COMMIT, "siblings": siblings}).encode(),
                       {"Content-Type": "application/json"}, body)
            return
        resolve = re.fullmatch(r"/(.+?)/resolve/([^/]+)/(.+)", path)
        if resolve and resolve.group(1) in self.repos and resolve.group(3) in self.repos[resolve.group(1)]:
            self._send_file(h, self.repos[resolve.group(1)][resolve.group(3)], path, body)
            return
        if path.startswith("/files/") and path[len("/files/"):] in self.files:
            self._send_file(h, self.files[path[len("/files/"):]], path, body)
            return
        self._send(h, 404, b'{"error": "not found"}', {"Content-Type": "application/json",
                                                       "X-Error-Code": "EntryNotFound"}, body)

    def _send_file(self, h: BaseHTTPRequestHandler, data: bytes, path: str, body: bool) -> None:
        sha = hashlib.sha256(data).hexdigest()
        headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{sha}"', "X-Linked-Etag": f'"{sha}"',
                   "X-Linked-Size": str(len(data)), "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        start = 0
        rng = re.fullmatch(r"bytes=(\d+)-", h.headers.get("Range") or "")
        if rng and body:
            start = int(rng.group(1))
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        payload = data[start:]
        cut = next((suffix for suffix in self.cut_once if path.endswith(suffix)), None)
        if body and cut and not start:
            self.cut_once.discard(cut)  # promise the whole file, send half, hang up
            h.send_response(200)
            for k, v in {**headers, "Content-Length": str(len(payload))}.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(payload[: len(payload) // 2])
            h.wfile.flush()
            h.close_connection = True
            return
        self._send(h, 206 if start else 200, payload, headers, body)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: bytes, headers: dict, body: bool) -> None:
        h.send_response(status)
        for k, v in {**headers, "Content-Length": str(len(payload))}.items():
            h.send_header(k, v)
        h.end_headers()
        if body:
            h.wfile.write(payload)
