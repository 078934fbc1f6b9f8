"""An HTTP server answering as a generic webhook, a WeCom robot and a DingTalk robot (which
checks the signature) would, for the notification tests (`cloud notify`, the alerts page)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "SECtest-robot-secret"


class Receivers(ThreadingHTTPServer):
    """Every POST, by path; `failing` paths answer 500 until cleared."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.posts: dict[str, list[dict[str, Any]]] = {}
        self.failing: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Receivers

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if url.path in self.server.failing:
            self.send_response(500)
            self.end_headers()
            return
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        if url.path == "/dingtalk":
            query = dict(urllib.parse.parse_qsl(url.query))
            expected = base64.b64encode(
                hmac.new(
                    SECRET.encode(), f"{query['timestamp']}\n{SECRET}".encode(), hashlib.sha256
                ).digest()
            ).decode()
            if query.get("sign") != expected:
                answer = {"errcode": 310000, "errmsg": "sign not match"}
        self.server.posts.setdefault(url.path, []).append(body)
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serving_receivers() -> Iterator[Receivers]:
    """A `Receivers` on a free port, in a thread, until the block ends (the `receivers`
    fixture of conftest.py)."""
    server = Receivers()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
