"""Fault injection for testing clients: `--faults "429=0.2,503=0.1,latency=0.3:0.5,drop=0.05,lost=0.05"`.

Shares of API requests that hit each fault:

- `429`, `503`: refused before any work, with `Retry-After` (`retry-after=SECONDS`, default 1).
- `drop`: the connection is closed before the request is served: no answer at all.
- `lost`: the request is served (and committed), then the connection is closed before the answer: the
  client cannot tell whether it happened, so this tests that its retries are idempotent.
- `latency=SHARE:SECONDS`: a share of requests is delayed (independently of the faults above).
- `train-delay=SECONDS`: every training stays `Training` at least this long (for polling and crash tests);
  the training queue holds each iteration back this long (training/queue.py, wired in app.py).
- `seed=N`: the same sequence of faults on every start (else random).

Every fault but `lost` hits before any work is done, so retrying those is always safe. The request faults are
one middleware, `FaultInjection`, which the gateway runs after the key check when any of them is on.
"""
from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field

from ..errors import send_error, too_many_requests, unavailable

log = logging.getLogger("cvlocal.gateway")


@dataclass
class Faults:
    throttle: float = 0.0      # 429 with Retry-After
    unavailable: float = 0.0   # 503 with Retry-After
    latency: float = 0.0       # share of requests delayed ...
    latency_s: float = 0.0     # ... by this many seconds
    drop: float = 0.0          # connection closed with no answer, before any work
    lost: float = 0.0          # the work is done, then the connection is closed with no answer
    retry_after_s: int = 1
    train_delay_s: float = 0.0
    seed: int | None = None
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.reseed(self.seed)

    def reseed(self, seed: int | None) -> None:
        self.seed = seed
        self._rng = random.Random(seed)

    @property
    def active(self) -> bool:
        """Whether any request-level fault is on (train-delay is not one)."""
        return any((self.throttle, self.unavailable, self.latency, self.drop, self.lost))

    def roll(self) -> str | None:
        """Which fault, if any, hits this request: 'drop', 'lost', '429', '503' (latency is separate)."""
        r = self._rng.random()
        for name, share in (("drop", self.drop), ("lost", self.lost), ("429", self.throttle),
                            ("503", self.unavailable)):
            if r < share:
                return name
            r -= share
        return None

    def delay(self) -> float:
        return self.latency_s if self.latency and self._rng.random() < self.latency else 0.0


_SHARES = {"429": "throttle", "503": "unavailable", "drop": "drop", "lost": "lost"}


def parse_faults(spec: str | None) -> Faults:
    faults = Faults()
    for part in filter(None, (p.strip() for p in (spec or "").split(","))):
        name, _, value = part.partition("=")
        name = name.strip()
        try:
            if name in _SHARES:
                share = float(value)
                if not 0.0 <= share <= 1.0:
                    raise ValueError
                setattr(faults, _SHARES[name], share)
            elif name == "latency":
                share, _, seconds = value.partition(":")
                faults.latency, faults.latency_s = float(share), float(seconds or 0.5)
                if not (0.0 <= faults.latency <= 1.0 and 0.0 <= faults.latency_s <= 3600):
                    raise ValueError
            elif name == "retry-after":
                faults.retry_after_s = int(value)
                if not 0 <= faults.retry_after_s <= 3600:
                    raise ValueError
            elif name == "train-delay":
                faults.train_delay_s = float(value)
                if not 0.0 <= faults.train_delay_s <= 3600:
                    raise ValueError
            elif name == "seed":
                faults.reseed(int(value))
            else:
                raise ValueError
        except ValueError:
            raise ValueError(f"Bad fault '{part}': use 429=SHARE, 503=SHARE, drop=SHARE, lost=SHARE, "
                             "latency=SHARE:SECONDS, retry-after=SECONDS, train-delay=SECONDS or seed=N "
                             "(shares from 0 to 1)") from None
    if faults.throttle + faults.unavailable + faults.drop + faults.lost > 1:
        raise ValueError("The shares of 429, 503, drop and lost faults add up to more than 1.")
    return faults


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


class FaultInjection:
    """The request faults: delay, then drop, serve-and-lose, 429 or 503, or pass the request on untouched."""

    def __init__(self, faults: Faults):
        self.faults = faults

    async def __call__(self, scope, receive, send, call_next) -> None:
        faults = self.faults
        delay = faults.delay()
        if delay:
            await asyncio.sleep(delay)
        fault = faults.roll()
        if fault is not None:
            log.info("injected fault %s on %s %s", fault, scope["method"], scope["path"])
        if fault == "drop":
            return await close_without_answer(send)
        if fault == "lost":
            await call_next(scope, receive, _discard)
            return await close_without_answer(send)
        if fault == "429":
            return await send_error(send, too_many_requests(faults.retry_after_s))
        if fault == "503":
            error = unavailable()
            error.headers["Retry-After"] = str(faults.retry_after_s)
            return await send_error(send, error)
        return await call_next(scope, receive, send)
