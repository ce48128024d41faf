"""A reverse proxy on loopback that forwards every request to a server and counts them by method and route,
so a test can say how many calls a client made (the client and the server stay unmodified)."""
from __future__ import annotations

import re
import threading
from collections import Counter
from urllib.parse import urlsplit

from harness.proxy import LoopbackProxy

_ID = re.compile(r"/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def route(method: str, path: str) -> str:
    """`POST /customvision/.../projects/{id}/images/files` for a request (ids and the query left out)."""
    return f"{method} {_ID.sub('/{id}', urlsplit(path).path)}"


class CountingProxy(LoopbackProxy):
    def __init__(self, target: str):
        super().__init__([target])
        self.counts: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def seen(self, method: str, path: str) -> None:
        with self._count_lock:
            self.counts[route(method, path)] += 1

    def total(self, excluding: tuple[str, ...] = ()) -> int:
        """Requests counted, leaving out the routes that end with any of `excluding`."""
        with self._count_lock:
            return sum(n for r, n in self.counts.items() if not r.endswith(excluding))

    def count(self, method: str, suffix: str) -> int:
        with self._count_lock:
            return sum(n for r, n in self.counts.items() if r.startswith(method + " ") and r.endswith(suffix))

    def reset(self) -> None:
        with self._count_lock:
            self.counts.clear()
