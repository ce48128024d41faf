"""Retries around SDK calls. The SDK retries neither 429 nor POSTs, so every call of the pipeline goes
through `Retrying`: 429, 408 and 5xx answers and connection errors are retried with exponential backoff and
jitter, honouring Retry-After (and retry-after-ms).

Keyless (Entra ID) clients also wait out 401/403 for a bounded time: a role assignment made by `pulumi up`
takes minutes to apply, so the first `cvops run` after a deploy is refused at first. A key is never retried
this way: a wrong key stays wrong, and says so on the first call."""
from __future__ import annotations

import email.utils
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from msrest.exceptions import ClientRequestError, HttpOperationError

from pipeline.sdk.errors import error_code, status_of

log = logging.getLogger("cvops.retry")
MAX_RETRY_AFTER = 300.0


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    retries: int = 0  # how many retries happened, for the report
    # Keyless only: how long 401/403 answers are retried after the first one (0: not at all), and how often.
    access_grace_s: float = 0.0
    access_retry_delay: float = 15.0
    clock: Callable[[], float] = time.monotonic
    _access_deadline: float | None = field(default=None, init=False, repr=False)

    def wait_for_access(self, exc: BaseException) -> bool:
        """After a 401/403 on a token credential: wait and return True while the grace period lasts."""
        if self.access_grace_s <= 0 or status_of(exc) not in (401, 403):
            return False
        now = self.clock()
        if self._access_deadline is None:
            self._access_deadline = now + self.access_grace_s
            log.warning("HTTP %s with an Entra ID token: a new role assignment can take minutes to apply; "
                        "retrying every %.0f s for up to %.0f s", status_of(exc), self.access_retry_delay,
                        self.access_grace_s)
        left = self._access_deadline - now
        if left <= 0:
            exc.cvops_hint = (f"still refused after {self.access_grace_s:.0f} s: check the principal's role "
                              "assignment on the account (docs/deploy.md, keyless)")
            return False
        self.retries += 1
        self.sleep(min(self.access_retry_delay, left))
        return True

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER) + self.rng.uniform(0, min(0.25, retry_after / 4 + 0.05))
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, ClientRequestError):  # connection refused/reset, timeouts, urllib3 giving up on 5xx
        return True
    if isinstance(exc, HttpOperationError):
        status = status_of(exc)
        return status is not None and (status in (408, 429) or status >= 500)
    return False


def retry_after(exc: BaseException) -> float | None:
    """Seconds the service asked us to wait (Retry-After: seconds or HTTP date; retry-after-ms)."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def call_with_retries(policy: RetryPolicy, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    attempt = 1
    while True:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - classified right below, re-raised when not retryable
            if policy.wait_for_access(exc):
                continue
            if not is_retryable(exc) or attempt >= policy.max_attempts:
                exc.cvops_operation = name  # for the one-line message the CLI prints
                exc.cvops_attempts = attempt
                raise
            wait = policy.delay(attempt, retry_after(exc))
            status = status_of(exc)
            what = f"HTTP {status}" + (f" {error_code(exc)}" if error_code(exc) else "") if status else \
                type(exc).__name__
            log.info("%s: %s; retry %d/%d in %.1f s", name, what, attempt, policy.max_attempts - 1, wait)
            policy.retries += 1
            policy.sleep(wait)
            attempt += 1


class Retrying:
    """A proxy for an SDK client whose every operation is called through `call_with_retries`."""

    def __init__(self, client: Any, policy: RetryPolicy):
        self._client = client
        self.policy = policy

    @property
    def client(self) -> Any:
        return self._client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        def operation(*args: Any, **kwargs: Any) -> Any:
            try:
                return call_with_retries(self.policy, name, attr, *args, **kwargs)
            except Exception as exc:
                exc.cvops_endpoint = getattr(getattr(self._client, "config", None), "endpoint", None)
                raise
        operation.__name__ = name
        return operation
