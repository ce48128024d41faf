"""Pacing: calls spaced to the rate the account allows, so Azure never has to answer 429 and nothing waits for
a Retry-After. Azure counts three rates (sdk/tiers.py): TrainProject calls, every other training call, and
predictions; a `train_project` call is taken from the first two, to be safe whichever way the service counts it.

The rate is known from the config (`service.tier`, `service.requests_per_second`, or the stack's SKU), or
learned from the first 429: the calls the service took in the window before it refused (Retry-After long, at
least a second) are its rate. Calls are spaced evenly (1/rate apart) and never more than the rate's worth go out
in a second counted from answers, so jitter on the way cannot push one over the limit. One Pacer per endpoint and process, so the training and prediction clients of
a run share it, and it says once how fast it goes ("pacing at 10 requests/s (S0)")."""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from pipeline.sdk import notices

TRAINING_CALLS = frozenset({"train_project"})
RELEARN_BELOW = 0.8     # a 429 while paced lowers the rate only if the service took clearly fewer calls
HISTORY_S = 10.0        # send times kept for learning


@dataclass(frozen=True)
class Rates:
    """Calls a second per kind (None: not known), and where they came from (for the progress line)."""
    train: float | None = None
    other: float | None = None
    prediction: float | None = None
    source: str = ""


class TokenBucket:
    """At most `rate` calls a second. A token bucket with room for one token (so: one call every 1/rate s)
    spaces the calls; and a call also waits until the call `limit` calls before it was answered a whole period
    ago. Whenever the service counts a call (between its sending and its answer), it then never sees more than
    `limit` in any period, however the network delays them: Azure's one-second window holds. (cvops calls one
    at a time; concurrent callers are spaced, but the window assumes each call is answered before the next.)"""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self._clock, self._sleep = clock, sleep
        self._next = clock()
        self._answered: deque[float] = deque()
        self._lock = threading.Lock()
        self.rate = rate

    @property
    def rate(self) -> float:
        return self._rate

    @rate.setter
    def rate(self, rate: float) -> None:
        self._rate = rate
        self.limit = max(1, int(rate + 1e-9))  # calls a period ...
        self.period = self.limit / rate        # ... of a second (longer for rates under 1/s)

    def take(self) -> float:
        """Wait for the call's turn; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            turn = max(now, self._next)
            if len(self._answered) >= self.limit:
                turn = max(turn, self._answered[-self.limit] + self.period)
            self._next = turn + 1 / self._rate
        wait = turn - now
        if wait > 0:
            self._sleep(wait)
        return max(0.0, wait)

    def answered(self) -> None:
        """The call that took the last turn has its answer (or failed)."""
        with self._lock:
            self._answered.append(self._clock())
            while len(self._answered) > self.limit:
                self._answered.popleft()


class Pacer:
    def __init__(self, rates: Rates, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self._clock, self._sleep = clock, sleep
        self.rates = rates
        self.buckets: dict[str, TokenBucket] = {}
        self._sent: dict[str, deque[float]] = {"train": deque(), "other": deque(), "prediction": deque()}
        self._announced: set[str] = set()
        self._lock = threading.Lock()
        for kind in ("train", "other", "prediction"):
            rate = getattr(rates, kind)
            if rate:
                self._set_rate(kind, rate)

    @staticmethod
    def kinds(operation: str, api: str) -> tuple[str, ...]:
        if api == "prediction":
            return ("prediction",)
        return ("train", "other") if operation in TRAINING_CALLS else ("other",)

    def rate(self, kind: str) -> float | None:
        bucket = self.buckets.get(kind)
        return bucket.rate if bucket else None

    def before(self, operation: str, api: str) -> float:
        """Wait for the call's turn (every kind it counts against); returns the seconds waited."""
        self._announce(api)
        waited = 0.0
        for kind in self.kinds(operation, api):
            bucket = self.buckets.get(kind)
            if bucket is not None:
                waited += bucket.take()
        now = self._clock()
        with self._lock:
            for kind in self.kinds(operation, api):
                sent = self._sent[kind]
                sent.append(now)
                while sent and sent[0] < now - HISTORY_S:
                    sent.popleft()
        return waited

    def after(self, operation: str, api: str) -> None:
        """The call has its answer (or failed): the window counts from here."""
        for kind in self.kinds(operation, api):
            bucket = self.buckets.get(kind)
            if bucket is not None:
                bucket.answered()

    def throttled(self, operation: str, api: str, retry_after: float | None) -> None:
        """After a 429: the calls the service took in the window before refusing are its rate."""
        kind = self.kinds(operation, api)[0]
        window = min(max(retry_after or 1.0, 1.0), HISTORY_S)
        now = self._clock()
        with self._lock:
            taken = sum(1 for t in self._sent[kind] if t >= now - window) - 1  # less the refused call
        if taken < 1:
            return  # refused at once (another client on the key?): nothing to learn, Retry-After is honoured
        learned = taken / window
        current = self.rate(kind)
        if current is not None and learned >= current * RELEARN_BELOW:
            return
        self._set_rate(kind, learned)
        notices.say(f"pacing at {_per_second(learned)} {_noun(kind)}/s (learned from HTTP 429)")

    def _set_rate(self, kind: str, rate: float) -> None:
        bucket = self.buckets.get(kind)
        if bucket is None:
            self.buckets[kind] = TokenBucket(rate, clock=self._clock, sleep=self._sleep)
        else:
            bucket.rate = rate

    def _announce(self, api: str) -> None:
        if api in self._announced:
            return
        self._announced.add(api)
        source = f" ({self.rates.source})" if self.rates.source else ""
        if api == "prediction":
            if self.rates.prediction:
                notices.say(f"pacing predictions at {_per_second(self.rates.prediction)}/s{source}")
            return
        other, train = self.rates.other, self.rates.train
        if other and train and train < other:
            notices.say(f"pacing at {_per_second(other)} requests/s and {_per_second(train)} training calls/s"
                        f"{source}")
        elif other or train:
            notices.say(f"pacing at {_per_second(other or train)} requests/s{source}")


def _per_second(rate: float) -> str:
    return f"{rate:.0f}" if rate >= 10 or rate == int(rate) else f"{rate:.1f}"


def _noun(kind: str) -> str:
    return {"train": "training calls", "other": "requests", "prediction": "predictions"}[kind]


_pacers: dict[tuple[str, Rates], Pacer] = {}
_pacers_lock = threading.Lock()


def pacer_for(endpoint: str, rates: Rates) -> Pacer:
    """The process's Pacer for an endpoint (made on first use), shared by every client that calls it."""
    key = (endpoint.rstrip("/").lower(), rates)
    with _pacers_lock:
        if key not in _pacers:
            _pacers[key] = Pacer(rates)
        return _pacers[key]


def forget_pacers() -> None:
    """Start over (tests that reuse an endpoint in one process)."""
    with _pacers_lock:
        _pacers.clear()
