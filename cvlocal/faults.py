"""Fault injection for testing clients: `--faults "429=0.2,503=0.1,latency=0.3:0.5,drop=0.05"`.

Each fault hits a share of API requests before any work is done, so a client that retries is always safe.
"""
from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Faults:
    throttle: float = 0.0      # 429 with Retry-After
    unavailable: float = 0.0   # 503 with Retry-After
    latency: float = 0.0       # share of requests delayed ...
    latency_s: float = 0.0     # ... by this many seconds
    drop: float = 0.0          # connection closed with no answer
    retry_after_s: int = 1

    @property
    def active(self) -> bool:
        return any((self.throttle, self.unavailable, self.latency, self.drop))

    def roll(self) -> str | None:
        """Which fault, if any, hits this request: 'drop', '429', '503' (latency is separate)."""
        r = random.random()
        for name, share in (("drop", self.drop), ("429", self.throttle), ("503", self.unavailable)):
            if r < share:
                return name
            r -= share
        return None

    def delay(self) -> float:
        return self.latency_s if self.latency and random.random() < self.latency else 0.0


def parse_faults(spec: str | None) -> Faults:
    faults = Faults()
    for part in filter(None, (p.strip() for p in (spec or "").split(","))):
        name, _, value = part.partition("=")
        try:
            if name == "429":
                faults.throttle = float(value)
            elif name == "503":
                faults.unavailable = float(value)
            elif name == "drop":
                faults.drop = float(value)
            elif name == "latency":
                share, _, seconds = value.partition(":")
                faults.latency, faults.latency_s = float(share), float(seconds or 0.5)
            elif name == "retry-after":
                faults.retry_after_s = int(value)
            else:
                raise ValueError
        except ValueError:
            raise ValueError(f"Bad fault '{part}': use 429=SHARE, 503=SHARE, drop=SHARE, latency=SHARE:SECONDS "
                             "or retry-after=SECONDS") from None
    if faults.throttle + faults.unavailable + faults.drop > 1:
        raise ValueError("The shares of 429, 503 and drop faults add up to more than 1.")
    return faults
