"""The front door, in one place and in this order: route normalisation, keys, the tier's request rates,
injected faults, dispatch.

Custom Vision clients send `/customvision/{any version}/{Training|training|Prediction|prediction}/...`; the
routers see `/training/...` and `/prediction/...`. Downloads (`/blobs/...`) carry their own signatures; the
portal's files (`/portal/...`) are public, and its scripts send the keys on the API calls like any client.
Operations with a direct endpoint (the classify-image hot path, gateway/direct.py) are served here as plain
ASGI; everything else goes to the FastAPI app.
"""
from __future__ import annotations

import re

from ..errors import no_route, send_error
from ..tiers.limiter import RateLimiter, operation_name
from .direct import DirectRoutes
from .faults import FaultInjection, Faults
from .keys import Keys

API_PATH = re.compile(r"^/customvision/v[0-9][^/]*/(training|prediction)(/.*)?$", re.IGNORECASE)
OPEN_PATHS = ("/blobs/", "/docs", "/openapi.json", "/portal")  # /portal: the web portal's static files
OPEN_ROUTES = ("/", "/health", "/ready")  # liveness and readiness probes send no key (api/health.py)


class Gateway:
    def __init__(self, app, keys: Keys, faults: Faults, direct: DirectRoutes, limiter: RateLimiter | None = None):
        self.app = app  # the FastAPI app
        self.keys = keys
        self.faults = FaultInjection(faults) if faults.active else None
        self.direct = direct
        self.limiter = limiter  # None: no request rates (--tier unlimited)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        match = API_PATH.match(path)
        if not match:
            if path in OPEN_ROUTES or path.startswith(OPEN_PATHS):
                return await self.app(scope, receive, send)
            return await send_error(send, no_route(scope["method"], path, "Custom Vision routes start with "
                                                   "/customvision/v3.x/training or /prediction."))
        kind = match.group(1).lower()
        owner, error = self.keys.identify(kind, scope)
        if error is not None:
            return await send_error(send, error)
        scope = dict(scope)
        scope["cvlocal.key_owner"] = owner  # the resource whose key it is (its request rates count both keys)
        scope["path"] = f"/{kind}{match.group(2) or ''}"
        scope["raw_path"] = scope["path"].encode()
        scope["cvlocal.kind"] = kind
        if self.limiter is not None:
            wait = self.limiter.wait(kind, scope)
            if wait:
                return await self.limiter.refuse(send, kind, scope, path, wait,
                                                 operation_name(self.app.router.routes, scope))
        if self.faults is not None:
            return await self.faults(scope, receive, send, self.dispatch)
        return await self.dispatch(scope, receive, send)

    async def dispatch(self, scope, receive, send) -> None:
        """A normalised request to its direct endpoint, or to FastAPI."""
        if scope["cvlocal.kind"] == "prediction":
            endpoint = self.direct.endpoint(scope["method"], scope["path"])
            if endpoint is not None:
                return await endpoint(scope, receive, send)
        return await self.app(scope, receive, send)
