"""Pacing over real HTTP: the official SDK client behind cvops' pacer against a loopback server that throttles
as Azure does (a sliding one-second window per kind of call, 429 with Retry-After beyond it). With the rate
known (`service.tier`), nothing is refused; with it unknown, the first 429 teaches it and no second one comes."""
from __future__ import annotations

import http.server
import json
import threading
import time
from collections import deque

import pytest

from pipeline.config import ServiceConfig
from pipeline.sdk import notices
from pipeline.sdk.clients import training_client
from pipeline.sdk.pacing import forget_pacers


class ThrottlingServer:
    """GET .../projects answers [], POST .../train answers an iteration; `limits` calls a second per kind."""

    def __init__(self, other_per_second: int, train_per_second: int):
        self.limits = {"other": other_per_second, "train": train_per_second}
        self.accepted = {"other": deque(), "train": deque()}
        self.refused = {"other": 0, "train": 0}
        self.lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                owner.answer(self, "other", b"[]")

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.dumps({"id": "00000000-0000-0000-0000-000000000001", "name": "Iteration 1",
                                   "status": "Training"}).encode()
                owner.answer(self, "train" if self.path.split("?")[0].endswith("/train") else "other", body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def answer(self, handler, kind: str, body: bytes) -> None:
        with self.lock:
            now, window = time.monotonic(), self.accepted[kind]
            while window and window[0] <= now - 1.0:
                window.popleft()
            refused = len(window) >= self.limits[kind]
            if refused:
                self.refused[kind] += 1
            else:
                window.append(now)
        if refused:
            body = json.dumps({"error": {"code": "429", "message": "Rate limit is exceeded. Try again in 1 "
                                                                   "seconds."}}).encode()
        handler.send_response(429 if refused else 200)
        if refused:
            handler.send_header("Retry-After", "1")
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def said():
    lines = []
    previous = notices.listen(lines.append)
    forget_pacers()
    yield lines
    notices.listen(previous)
    forget_pacers()


def test_a_known_tier_is_paced_and_never_refused(said):
    server = ThrottlingServer(other_per_second=10, train_per_second=2)  # F0
    try:
        trainer = training_client(ServiceConfig(training_endpoint=server.endpoint, training_key="k" * 32,
                                                tier="F0"))
        start = time.monotonic()
        for _ in range(25):
            trainer.get_projects()
        for _ in range(3):
            trainer.train_project("00000000-0000-0000-0000-0000000000aa")
        elapsed = time.monotonic() - start
    finally:
        server.close()
    assert server.refused == {"other": 0, "train": 0}
    assert elapsed >= 24 / 10 + 2 / 2  # spaced, not bounced: 25 calls at 10/s, then 3 trainings at 2/s
    assert said[0] == "pacing at 10 requests/s and 2 training calls/s (F0)"
    assert not any("retrying" in line for line in said)


def test_an_unknown_rate_is_learned_from_the_first_429_and_held(said):
    server = ThrottlingServer(other_per_second=6, train_per_second=2)
    try:
        trainer = training_client(ServiceConfig(training_endpoint=server.endpoint, training_key="k" * 32))
        for _ in range(20):
            trainer.get_projects()
    finally:
        server.close()
    assert server.refused["other"] == 1, (server.refused, said)
    assert any(line.startswith("get_projects: retrying 2/8 in 1.") and "(HTTP 429" in line for line in said), said
    learned = [line for line in said if "learned from HTTP 429" in line]
    assert len(learned) == 1 and learned[0].startswith("pacing at 6 requests/s"), said
