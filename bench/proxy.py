"""A counting HTTP proxy on loopback: what a client sent to the service and what it was answered, counted by
Azure's kinds of call (TrainProject, other training calls, prediction with and without storage) and by status.

The benchmarks put it between the pipeline and the service, so the counts are what went over the wire
whatever the client does; both sides of a comparison go through it, so its cost is in both.
"""
from __future__ import annotations

import http.client
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from cvlocal.gateway.front import API_PATH
from cvlocal.tiers.limiter import call_kind

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
              "content-length"}


class CountingProxy:
    """`with CountingProxy(upstream) as proxy:` clients call `proxy.endpoint`; `proxy.calls` counts
    (kind of call, status) and `proxy.statuses` counts statuses."""

    def __init__(self, upstream: str):
        target = urlsplit(upstream)
        self._upstream = (target.hostname, target.port)
        self._lock = threading.Lock()
        self.calls: Counter[tuple[str, int]] = Counter()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "CountingProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> Counter[tuple[str, int]]:
        """The counts so far, and start again from nothing."""
        with self._lock:
            counted, self.calls = self.calls, Counter()
        return counted

    def _count(self, method: str, target: str, status: int) -> None:
        path = target.split("?", 1)[0]
        match = API_PATH.match(path)
        kind = call_kind(match.group(1).lower(), method, f"/{match.group(1).lower()}{match.group(2) or ''}") \
            if match else "not an API call"
        with self._lock:
            self.calls[(kind, status)] += 1

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDK expects
            upstream: http.client.HTTPConnection | None = None

            def log_message(self, *args) -> None:
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
