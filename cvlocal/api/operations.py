"""An operation of the API as one entry: its SDK name, method and path, the FastAPI endpoint that serves it,
and, for the hot path, the plain-ASGI endpoint the gateway serves it with instead (gateway/direct.py)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

# direct(context, scope, receive, send, **path parameters): answers the request itself.
DirectEndpoint = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class Operation:
    name: str                           # the SDK's operation name (OpenAPI operation id and summary)
    method: str
    path: str                           # a FastAPI path template, from the root the gateway routes to
    endpoint: Callable[..., Any]        # the FastAPI endpoint (the OpenAPI document, and apps without the gateway)
    direct: DirectEndpoint | None = None
