"""The operations the gateway serves itself, matched by the paths of the operation table (api/prediction.py)."""
from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

_PARAMETER = re.compile(r"\{(\w+)(?::path)?\}")


def _pattern(template: str) -> re.Pattern:
    """A FastAPI path template as a regular expression: `{name}` is one path segment (a trailing '/' is allowed)."""
    parts, last = [], 0
    for m in _PARAMETER.finditer(template):
        segment = ".+" if m.group(0).endswith(":path}") else "[^/]+"
        parts += [re.escape(template[last:m.start()]), f"(?P<{m.group(1)}>{segment})"]
        last = m.end()
    return re.compile("^" + "".join(parts) + re.escape(template[last:]) + "/?$")


class Operation(Protocol):
    """What the gateway reads of an entry of the operation table (api/operations.py)."""
    method: str
    path: str
    direct: Callable[..., Awaitable[None]] | None


class DirectRoutes:
    def __init__(self, operations: Iterable[Operation], context):
        """`context` is handed to each direct endpoint (the predictor, for classify-image)."""
        self._routes = [(op.method, _pattern(op.path), op.direct) for op in operations if op.direct is not None]
        self._context = context

    def endpoint(self, method: str, path: str):
        """The ASGI app that serves this request directly, or None (FastAPI serves it)."""
        for route_method, pattern, direct in self._routes:
            if route_method == method:
                match = pattern.match(path)
                if match:
                    return functools.partial(direct, self._context, **match.groupdict())
        return None
