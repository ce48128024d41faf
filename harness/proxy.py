"""A reverse proxy on loopback in front of one server or several: each request goes to the next server in turn
(round robin), as a load balancer in front of replicas sends it. A server that refuses the connection (it is
down) is skipped for the next one, which is safe for any request since none of it was sent; a server that
fails after taking the request is answered 502, as a load balancer answers, and the client decides.
Subclasses see every request (`seen`), e.g. to count them (counting_proxy.py)."""
from __future__ import annotations

import http.client
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade", "content-length"}


class LoopbackProxy:
    def __init__(self, targets: list[str], timeout_s: float = 300):
        self.targets = [(urlsplit(t).hostname, urlsplit(t).port or 80) for t in targets]
        self.timeout_s = timeout_s
        self._turns = itertools.cycle(range(len(self.targets)))
        self._lock = threading.Lock()
        self.answered_by: dict[int, int] = {i: 0 for i in range(len(self.targets))}  # target -> requests
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's session expects

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                proxy.seen(self.command, self.path)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                status, reason, answer_headers, data = proxy.forward(self.command, self.path, body, headers)
                self.send_response(status, reason)
                for key, value in answer_headers:
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

            def log_message(self, format, *args) -> None:  # noqa: A002 - quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def seen(self, method: str, path: str) -> None:
        """Called for every request before it is forwarded."""

    def forward(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, str, list, bytes]:
        for _ in range(len(self.targets)):
            with self._lock:
                turn = next(self._turns)
            host, port = self.targets[turn]
            upstream = http.client.HTTPConnection(host, port, timeout=self.timeout_s)
            try:
                try:
                    upstream.connect()
                except ConnectionRefusedError:
                    continue  # that replica is down: the next one takes the request
                try:
                    upstream.request(method, path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                except (OSError, http.client.HTTPException) as exc:
                    return _bad_gateway(f"the server stopped answering: {type(exc).__name__}")
                with self._lock:
                    self.answered_by[turn] += 1
                return answer.status, answer.reason, answer.getheaders(), data
            finally:
                upstream.close()
        return _bad_gateway("no server is up")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


def _bad_gateway(message: str) -> tuple[int, str, list, bytes]:
    body = json.dumps({"code": "BadGateway", "message": message}).encode()
    return 502, "Bad Gateway", [("Content-Type", "application/json")], body
