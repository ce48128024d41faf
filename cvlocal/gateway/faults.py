"""Fault injection for testing clients: `--faults "429=0.2,503=0.1,latency=0.3:0.5,drop=0.05,lost=0.05"`.

Shares of API requests that hit each fault:

- `429`, `503`: refused before any work, with `Retry-After` (`retry-after=SECONDS`, default 1).
- `drop`: the connection is closed before the request is served: no answer at all.
- `lost`: the request is served (and committed), then the connection is closed before the answer: the
  client cannot tell whether it happened, so this tests that its retries are idempotent.
- `latency=SHARE:SECONDS`: a share of requests is delayed (independently of the faults above).
- `train-delay=SECONDS`: every training stays `Training` at least this long (for polling and crash tests).
- `seed=N`: the same sequence of faults on every start (else random).

Every fault but `lost` hits before any work is done, so retrying those is always safe.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field


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
