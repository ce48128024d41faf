"""A reverse proxy on loopback that forwards every request to a server and counts what went over the wire, so a
test or a benchmark can say how many calls a client made, of which route and with which answer (the client and
the server stay unmodified; both sides of a comparison go through it, so its cost is in both).

It keeps one upstream connection per client connection (keep-alive, as the SDK's session expects), so putting
it in front of a service does not add a TCP handshake to every request. (The server plumbing it shares with
the cluster's balancer is harness/proxy.py.)
"""
from __future__ import annotations

import http.client
import re
import threading
from collections import Counter
from urllib.parse import urlsplit

from harness.proxy import Answer, LoopbackProxy, address

_ID = re.compile(r"/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def route(method: str, path: str) -> str:
    """`POST /customvision/.../projects/{id}/images/files` for a request (ids and the query left out)."""
    return f"{method} {_ID.sub('/{id}', urlsplit(path).path)}"


class CountingProxy(LoopbackProxy):
    """`with CountingProxy(upstream) as proxy:` clients call `proxy.endpoint`. `proxy.counts` counts requests by
    route; `proxy.answered` counts (method, path without the query, status)."""

    def __init__(self, target: str):
        super().__init__()
        self._upstream = address(target)
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.answered: Counter[tuple[str, str, int]] = Counter()

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

    def exchange(self, request, headers, body) -> Answer:
        answer = self._send_upstream(request, headers, body)
        with self._lock:
            self.counts[route(request.command, request.path)] += 1
            self.answered[(request.command, request.path.split("?", 1)[0], answer[0])] += 1
        return answer

    def _send_upstream(self, request, headers, body) -> Answer:
        for attempt in (1, 2):  # once more on a fresh connection if the kept one was closed while idle
            upstream = getattr(request, "upstream", None)
            if upstream is None:
                upstream = request.upstream = http.client.HTTPConnection(*self._upstream, timeout=900)
            try:
                upstream.request(request.command, request.path, body=body, headers=headers)
                response = upstream.getresponse()
                return response.status, response.getheaders(), response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                upstream.close()
                request.upstream = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")
