"""A reverse proxy on loopback that forwards every request to a server and counts what went over the wire, so a
test or a benchmark can say how many calls a client made, of which route and with which answer (the client and
the server stay unmodified; both sides of a comparison go through it, so its cost is in both).

It keeps one upstream connection per client connection (keep-alive, as the SDK's session expects), so putting
it in front of a service does not add a TCP handshake to every request.
"""
from __future__ import annotations

import http.client
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
              "trailer", "trailers", "transfer-encoding", "upgrade", "content-length"}
_ID = re.compile(r"/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def route(method: str, path: str) -> str:
    """`POST /customvision/.../projects/{id}/images/files` for a request (ids and the query left out)."""
    return f"{method} {_ID.sub('/{id}', urlsplit(path).path)}"


class CountingProxy:
    """`with CountingProxy(upstream) as proxy:` clients call `proxy.endpoint`. `proxy.counts` counts requests by
    route; `proxy.answered` counts (method, path without the query, status)."""

    def __init__(self, target: str):
        parts = urlsplit(target)
        self._upstream = (parts.hostname, parts.port or 80)
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.answered: Counter[tuple[str, str, int]] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def total(self, excluding: tuple[str, ...] = ()) -> int:
        """Requests counted, leaving out the routes that end with any of `excluding`."""
        with self._lock:
            return sum(n for r, n in self.counts.items() if not r.endswith(excluding))

    def count(self, method: str, suffix: str) -> int:
        with self._lock:
            return sum(n for r, n in self.counts.items() if r.startswith(method + " ") and r.endswith(suffix))

    def reset(self) -> Counter[tuple[str, str, int]]:
        """What was answered so far, and start counting again from nothing."""
        with self._lock:
            answered, self.answered, self.counts = self.answered, Counter(), Counter()
        return answered

    def _count(self, method: str, target: str, status: int) -> None:
        with self._lock:
            self.counts[route(method, target)] += 1
            self.answered[(method, target.split("?", 1)[0], status)] += 1

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            upstream: http.client.HTTPConnection | None = None

            def log_message(self, *args) -> None:  # quiet: the counts are the log
                pass

            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                if body is not None:
                    headers["Content-Length"] = str(len(body))
                status, reply_headers, data = self._send_upstream(headers, body)
                proxy._count(self.command, self.path, status)
                self.send_response_only(status)
                for name, value in reply_headers:
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_upstream(self, headers, body):
                for attempt in (1, 2):  # once more on a fresh connection if the kept one was closed while idle
                    if self.upstream is None:
                        self.upstream = http.client.HTTPConnection(*proxy._upstream, timeout=900)
                    try:
                        self.upstream.request(self.command, self.path, body=body, headers=headers)
                        response = self.upstream.getresponse()
                        return response.status, response.getheaders(), response.read()
                    except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                        self.upstream.close()
                        self.upstream = None
                        if attempt == 2:
                            raise
                raise AssertionError("unreachable")

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = forward

        return Handler

    def __enter__(self) -> "CountingProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
