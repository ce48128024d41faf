"""Request rates per key, counted as Azure counts them, answered as Azure answers past them.

Azure counts four kinds of call, each per second and per key: TrainProject, every other training call,
prediction that stores the image, and prediction without storage (`/nostore`). Each kind of call of each key
has a token bucket: it holds a second's worth of calls (what Azure's per-second windows let through at once)
and refills at the tier's rate. A call that finds no token is refused with 429, a `Retry-After` header and
Azure's gateway body (`{"error": {"code": "429", "message": ...}}`), and is not counted.

The gateway calls `wait` on the event loop's one thread, and a bucket is read and written with no `await` in
between, so no lock is needed; a request costs a scan of its headers, one dict lookup and a few float
operations (buckets are made once per key and kind of call). The limiter runs after the key check, so only
real keys get buckets.
"""
from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable

from .table import Tier

log = logging.getLogger("cvlocal.tiers")

TRAIN, OTHER, PREDICT, PREDICT_NO_STORE = "TrainProject", "other", "prediction", "prediction without storage"
_TRAIN_PATH = re.compile(r"^/training/projects/[^/]+/train/?$")
_NO_STORE = ("/nostore", "/nostore/")
MAX_KEYS = 1024
_VERSION = re.compile(r"^/customvision/v([^/]+)/", re.IGNORECASE)


def call_kind(kind: str, method: str, path: str) -> str:
    """Which of Azure's four rates a request counts against (`path` as the gateway routes it:
    /training/... or /prediction/...)."""
    if kind == "prediction":
        return PREDICT_NO_STORE if path.endswith(_NO_STORE) else PREDICT
    if method == "POST" and _TRAIN_PATH.match(path):
        return TRAIN
    return OTHER


class TokenBucket:
    __slots__ = ("rate", "capacity", "tokens", "stamp")

    def __init__(self, rate: float, now: float):
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = now

    def take(self, now: float) -> float:
        """0.0 when a call may go now (its token is taken), else the seconds until one may."""
        tokens = self.tokens + (now - self.stamp) * self.rate
        if tokens > self.capacity:
            tokens = self.capacity
        self.stamp = now
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return 0.0
        self.tokens = tokens
        return (1.0 - tokens) / self.rate


class RateLimiter:
    def __init__(self, tier: Tier, key_headers: dict[str, tuple[bytes, ...]],
                 clock: Callable[[], float] = time.monotonic):
        """`key_headers`: per kind ("training", "prediction"), the headers a key may come in, in the order the
        key check reads them (gateway/keys.py)."""
        self.tier = tier
        self._key_headers = key_headers
        self._clock = clock
        self._rates = {TRAIN: tier.train_per_s, OTHER: tier.other_per_s, PREDICT: tier.predict_per_s,
                       PREDICT_NO_STORE: tier.predict_no_store_per_s}
        self._buckets: dict[str, dict[bytes, TokenBucket]] = {call: {} for call in self._rates}

    def wait(self, kind: str, scope) -> float:
        """0.0 when this (normalised, key-checked) request may go, and it is counted; else the seconds until its
        key may make this kind of call again."""
        call = call_kind(kind, scope["method"], scope["path"])
        rate = self._rates[call]
        if rate is None:
            return 0.0
        # Per resource when the key check said whose key it is (key 1 and key 2 share a budget, as on Azure),
        # else per key value.
        owner = scope.get("cvlocal.key_owner")
        key = owner.encode() if owner else _key(scope["headers"], self._key_headers[kind])
        buckets = self._buckets[call]
        now = self._clock()
        bucket = buckets.get(key)
        if bucket is None:
            if len(buckets) >= MAX_KEYS:  # only checked keys get here; a guard, should the key check change
                buckets.clear()
            bucket = buckets[key] = TokenBucket(rate, now)
        return bucket.take(now)

    async def refuse(self, send, kind: str, scope, original_path: str, wait: float,
                     operation: str | None) -> None:
        """Answer 429 as Azure's gateway does: `Retry-After` in whole seconds, its body shape and wording."""
        seconds = max(1, math.ceil(wait))
        call = call_kind(kind, scope["method"], scope["path"])
        log.info("429 to %s: over %s's %g %s calls a second for this key; retry after %d s",
                 operation or scope["path"], self.tier.name, self._rates[call], call, seconds)
        body = json.dumps({"error": {"code": "429", "message": throttled_message(
            self.tier.name, kind, operation, _api_version(original_path), seconds)}}).encode()
        await send({"type": "http.response.start", "status": 429, "headers": [
            (b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(seconds).encode())]})
        await send({"type": "http.response.body", "body": body})


def throttled_message(tier: str, kind: str, operation: str | None, version: str, seconds: int) -> str:
    """Azure's words, as its F0 answers them (seen: "Requests to the CreateImagesFromData Operation under
    Custom_Vision_Training_3.3 have exceeded rate limit of your current Custom_Vision.Training F0 pricing tier.
    Please retry after 1 second. To increase your rate limit switch to a paid tier."); on a paid tier the last
    sentence is the one Azure's gateway gives paid tiers of its other AI services."""
    api = "Training" if kind == "training" else "Prediction"
    then = ("To increase your rate limit switch to a paid tier." if tier == "F0" else
            "Please contact Azure support service if you would like to further increase the default rate limit.")
    return (f"Requests to the {operation or 'requested'} Operation under Custom_Vision_{api}_{version} have "
            f"exceeded rate limit of your current Custom_Vision.{api} {tier} pricing tier. Please retry after "
            f"{seconds} second{'s' if seconds != 1 else ''}. {then}")


def operation_name(routes: Iterable, scope) -> str | None:
    """The operation a request calls, as Azure names it (`CreateImagesFromData`), from the route that serves it
    (routes are named for the SDK's operations); only looked up for a refusal."""
    from starlette.routing import Match

    for route in _named_routes(routes):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return "".join(word.capitalize() for word in route.name.split("_"))
    return None


def _named_routes(routes: Iterable):
    for route in routes:
        inner = getattr(route, "original_router", None)  # newer FastAPI keeps an included router whole
        if inner is not None:
            yield from _named_routes(inner.routes)
        elif getattr(route, "name", None):
            yield route


def _key(headers, names: tuple[bytes, ...]) -> bytes:
    """The key the key check read: the first of `names` the request has, its last value if it came twice (as
    `dict(headers)` reads it). Reading another one would let a client pick its own bucket."""
    for name in names:
        found = None
        for header, value in headers:
            if header == name:
                found = value
        if found is not None:
            return found
    return b""


def _api_version(path: str) -> str:
    match = _VERSION.match(path)
    return match.group(1) if match else "3.3"
