"""The front door, in one place and in this order: route normalisation, keys, injected faults, dispatch.

Custom Vision clients send `/customvision/{any version}/{Training|training|Prediction|prediction}/...`; the
routers see `/training/...` and `/prediction/...`. Downloads (`/blobs/...`) carry their own signatures; the
portal's files (`/portal/...`) are public, and its scripts send the keys on the API calls like any client.
The prediction hot path (classify an image) goes straight to its endpoint; everything else to FastAPI.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import re

from .api.classify import ROUTE as CLASSIFY_ROUTE, serve_classify
from .errors import CustomVisionError, not_found, send_error, too_many_requests, unauthorized, unavailable
from .settings import Settings

log = logging.getLogger("cvlocal.gateway")
API_PATH = re.compile(r"^/customvision/v[0-9][^/]*/(training|prediction)(/.*)?$", re.IGNORECASE)
KEY_HEADERS = {
    "training": (b"training-key", b"ocp-apim-subscription-key"),
    "prediction": (b"prediction-key", b"ocp-apim-subscription-key"),
}
OPEN_PATHS = ("/blobs/", "/docs", "/openapi.json", "/portal")  # /portal: the web portal's static files


def _equal(given: str, expected: str) -> bool:
    """Constant time whatever the lengths: compare_digest on the raw keys would tell a wrong length apart."""
    return hmac.compare_digest(hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest(),
                               hashlib.sha256(expected.encode("utf-8", "surrogatepass")).digest())


async def _discard(message) -> None:
    """The `send` of a request whose answer is lost (fault `lost`)."""


async def close_without_answer(send) -> None:
    """Close the client's connection with no HTTP answer at all, as a crashed server or a broken network would.

    uvicorn answers 500 for an app that returns without a response, so the connection is aborted under it
    (its `send` is a method of the request cycle that holds the transport). Elsewhere, a response that
    promises a body it never sends leaves the client without a usable answer too.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is not None and hasattr(transport, "abort"):
        transport.abort()
        await asyncio.sleep(0)  # the server notices the connection is gone and sends nothing
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]})
    raise ConnectionAbortedError("fault injection: connection closed without an answer")


class Gateway:
    def __init__(self, app, settings: Settings, services=None):
        self.app = app
        self.settings = settings
        self.services = services  # api.deps.Services, for the endpoints served here directly

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        match = API_PATH.match(path)
        if not match:
            if path == "/" or path.startswith(OPEN_PATHS):
                return await self.app(scope, receive, send)
            return await send_error(send, not_found(f"No route {scope['method']} {path}. Custom Vision routes "
                                                    "start with /customvision/v3.x/training or /prediction."))
        kind = match.group(1).lower()
        error = self._check_key(kind, scope)
        if error is not None:
            return await send_error(send, error)
        scope = dict(scope)
        scope["path"] = f"/{kind}{match.group(2) or ''}"
        scope["raw_path"] = scope["path"].encode()
        scope["cvlocal.kind"] = kind
        faults = self.settings.faults
        if faults.active:
            delay = faults.delay()
            if delay:
                await asyncio.sleep(delay)
            fault = faults.roll()
            if fault is not None:
                log.info("injected fault %s on %s %s", fault, scope["method"], path)
            if fault == "drop":
                return await close_without_answer(send)
            if fault == "lost":
                await self._endpoint(scope)(scope, receive, _discard)
                return await close_without_answer(send)
            if fault == "429":
                return await send_error(send, too_many_requests(faults.retry_after_s))
            if fault == "503":
                error = unavailable()
                error.headers["Retry-After"] = str(faults.retry_after_s)
                return await send_error(send, error)
        return await self._endpoint(scope)(scope, receive, send)

    def _endpoint(self, scope):
        """The ASGI app that serves a (normalised) request: the classify endpoint or FastAPI."""
        if scope["cvlocal.kind"] == "prediction" and scope["method"] == "POST" and self.services is not None:
            route = CLASSIFY_ROUTE.match(scope["path"])
            if route:
                return functools.partial(serve_classify, self.services, route=route)
        return self.app

    def _check_key(self, kind: str, scope) -> CustomVisionError | None:
        headers = dict(scope["headers"])  # ASGI header names are lower-case bytes
        given = next((headers[h].decode("latin-1") for h in KEY_HEADERS[kind] if h in headers), None)
        if not given:
            return unauthorized(f"Access denied: send the {kind} key in the "
                                f"'{'Training-Key' if kind == 'training' else 'Prediction-Key'}' header.")
        training, prediction = self.settings.training_key, self.settings.prediction_key
        if kind == "training":
            if _equal(given, training):
                return None
            if _equal(given, prediction):
                return unauthorized("Access denied: a prediction key cannot call training operations.")
        elif _equal(given, prediction) or _equal(given, training):
            return None
        return unauthorized("Access denied due to invalid key. Make sure to provide a valid key for an active "
                            "subscription.")
