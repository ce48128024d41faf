"""Retries around SDK calls. The SDK retries neither 429 nor POSTs, so every call of the pipeline goes
through `Retrying`: 429, 408 and 5xx answers and connection errors are retried with exponential backoff and
jitter, honouring Retry-After (and retry-after-ms).

Keyless (Entra ID) clients also wait out 401/403 for a bounded time (`service.rbac_wait_minutes`, 15 by
default): a role assignment made by `pulumi up` takes minutes to apply (Microsoft documents up to 10, and up
to 30 are seen), so the first `cvops run` after a deploy is refused at first. One line says why it waits,
and another each minute how long it has waited. A key is never retried
this way: a wrong key stays wrong, and says so on the first call.

Every retry is said on stderr as it happens ("get_projects: retrying 3/8 in 12 s (HTTP 503)"), and a
connection refused on a loopback endpoint that has never answered ends at once: nothing is listening there (a
wrong port, a service not started), and waiting minutes would not change that. Once the endpoint has answered,
a refusal means a restart, and is waited out like any other outage. Calls are spaced by `pacing.Pacer`."""
from __future__ import annotations

import email.utils
import ipaddress
import logging
import random
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable
from urllib.parse import urlparse

from msrest.exceptions import ClientRequestError, HttpOperationError

from pipeline.sdk import notices
from pipeline.sdk.errors import error_code, is_connection_refused, status_of, transport_reason
from pipeline.sdk.pacing import Pacer

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
    access_progress_every_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _access_started: float | None = field(default=None, init=False, repr=False)
    _access_said: float = field(default=0.0, init=False, repr=False)

    def wait_for_access(self, exc: BaseException, name: str = "call") -> bool:
        """After a 401/403 on a token credential: wait and return True while the role wait lasts."""
        if self.access_grace_s <= 0 or status_of(exc) not in (401, 403):
            return False
        now = self.clock()
        if self._access_started is None:
            self._access_started = self._access_said = now
            log.warning("%s: HTTP %s with an Entra ID token. A role assignment made by `pulumi up` takes time to "
                        "apply (Microsoft documents up to 10 minutes; up to 30 are seen): retrying every %.0f s "
                        "for up to %s (service.rbac_wait_minutes)", name, status_of(exc),
                        self.access_retry_delay, _minutes(self.access_grace_s))
        waited = now - self._access_started
        left = self.access_grace_s - waited
        if left <= 0:
            exc.cvops_hint = (f"still refused after waiting {_minutes(self.access_grace_s)} for the role "
                              "assignment: check the principal's role assignment on the account (docs/deploy.md, "
                              "keyless), or wait longer with service.rbac_wait_minutes")
            return False
        if now - self._access_said >= self.access_progress_every_s:
            self._access_said = now
            notices.say(f"{name}: still HTTP {status_of(exc)}; waited {_minutes(waited)} of "
                        f"{_minutes(self.access_grace_s)} for the role assignment to apply")
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


class CallHooks:
    """What a client adds around each attempt (Retrying: pacing, and knowing whether its endpoint answered)."""

    def before(self, name: str) -> None:
        pass

    def after(self, name: str) -> None:
        pass

    def answered(self) -> None:
        pass

    def throttled(self, name: str, retry_after: float | None) -> None:
        pass

    def nobody_listening(self, exc: BaseException) -> bool:
        return False


def call_with_retries(policy: RetryPolicy, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return attempt_calls(policy, name, partial(fn, *args, **kwargs))


def attempt_calls(policy: RetryPolicy, name: str, call: Callable[[], Any], hooks: CallHooks = CallHooks()) -> Any:
    attempt = 1
    while True:
        hooks.before(name)
        try:
            result = call()
            hooks.after(name)
            hooks.answered()
            return result
        except Exception as exc:  # noqa: BLE001 - classified right below, re-raised when not retryable
            hooks.after(name)
            status = status_of(exc)
            if status is not None:
                hooks.answered()
            if policy.wait_for_access(exc, name):
                continue
            if hooks.nobody_listening(exc):
                exc.cvops_not_listening = True
            if getattr(exc, "cvops_not_listening", False) or not is_retryable(exc) or \
                    attempt >= policy.max_attempts:
                exc.cvops_operation = name  # for the one-line message the CLI prints
                exc.cvops_attempts = attempt
                raise
            if status == 429:
                hooks.throttled(name, retry_after(exc))
            wait = policy.delay(attempt, retry_after(exc))
            what = f"HTTP {status}" + (f" {error_code(exc)}" if error_code(exc) else "") if status else \
                type(exc).__name__
            if log.isEnabledFor(logging.INFO):  # --verbose: the whole reason, beside the notice's few words
                log.info("%s: attempt %d failed: %s: %s", name, attempt, type(exc).__name__, _detail(exc))
            why = what if status else transport_reason(exc)
            notices.say(f"{name}: retrying {attempt + 1}/{policy.max_attempts} in {_seconds(wait)} ({why})")
            policy.retries += 1
            policy.sleep(wait)
            attempt += 1


def _detail(exc: BaseException) -> str:
    try:
        return str(exc)[:300]
    except Exception:  # noqa: BLE001 - an SDK exception built without its message cannot say more
        return ""


def _minutes(seconds: float) -> str:
    whole, rest = divmod(int(round(seconds)), 60)
    return f"{whole} min" + (f" {rest} s" if rest else "")


def _seconds(wait: float) -> str:
    return f"{wait:.0f} s" if wait >= 10 else f"{wait:.1f} s"


def is_loopback(endpoint: str | None) -> bool:
    host = urlparse(endpoint or "").hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _ClientHooks(CallHooks):
    def __init__(self, owner: "Retrying"):
        self.owner = owner

    def before(self, name: str) -> None:
        if self.owner.pacer is not None:
            self.owner.pacer.before(name, self.owner.api)

    def after(self, name: str) -> None:
        if self.owner.pacer is not None:
            self.owner.pacer.after(name, self.owner.api)

    def answered(self) -> None:
        self.owner.answered = True

    def throttled(self, name: str, retry_after: float | None) -> None:
        if self.owner.pacer is not None:
            self.owner.pacer.throttled(name, self.owner.api, retry_after)

    def nobody_listening(self, exc: BaseException) -> bool:
        return not self.owner.answered and is_loopback(self.owner.endpoint) and is_connection_refused(exc)


class Retrying:
    """A proxy for an SDK client whose every operation is called through `call_with_retries`."""

    def __init__(self, client: Any, policy: RetryPolicy, pacer: Pacer | None = None, api: str = "training"):
        self._client = client
        self.policy = policy
        self.pacer = pacer
        self.api = api  # training | prediction: what the pacer counts a call as
        self.answered = False  # has the endpoint answered (anything) yet?
        self._hooks = _ClientHooks(self)

    @property
    def endpoint(self) -> str | None:
        return getattr(getattr(self._client, "config", None), "endpoint", None)

    @property
    def client(self) -> Any:
        return self._client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        def operation(*args: Any, **kwargs: Any) -> Any:
            try:
                return attempt_calls(self.policy, name, partial(attr, *args, **kwargs), self._hooks)
            except Exception as exc:
                exc.cvops_endpoint = self.endpoint
                exc.cvops_api = self.api
                raise
        operation.__name__ = name
        return operation
