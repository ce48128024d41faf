"""What a failed SDK call raises, Custom Vision's error codes the pipeline acts on, and one clear line for each
failure (the CLI prints it).

The SDK raises `HttpOperationError` when the service answered with an error (its `CustomVisionErrorException`,
training and prediction alike, is a subclass whose `.error.code` is Custom Vision's code) and
`ClientRequestError` when no answer came (connection refused or reset, timeouts)."""
from __future__ import annotations

import re

from msrest.exceptions import ClientRequestError, HttpOperationError

from pipeline.errors import PipelineError, ServiceError

# Everything a failed call raises: the service said no, or nothing came back.
CALL_FAILED = (HttpOperationError, ClientRequestError)

# Custom Vision's error codes that a step handles rather than reports.
PROJECT_NAME_TAKEN = frozenset({"BadRequestProjectNameNotUnique", "BadRequestProjectDuplicated"})
TAG_NAME_TAKEN = "BadRequestTagNameNotUnique"
TRAINING_NOT_NEEDED = frozenset({"BadRequestTrainingNotNeeded",
                                 "BadRequestTrainingNotNeededButTrainingPipelineUpdated"})
TRAINING_IN_PROGRESS = "BadRequestTrainingAlreadyInProgress"
TRAINING_VALIDATION_FAILED = "BadRequestTrainingValidationFailed"
ITERATION_NOT_PUBLISHED = "BadRequestIterationNotPublished"
ITERATION_IS_PUBLISHED = "BadRequestIterationIsPublished"
ITERATION_NOT_FOUND = "NotFoundIteration"
# The answers of a service that will not move a published name with overwrite=true.
OVERWRITE_REFUSED = frozenset({None, "BadRequest", "BadRequestInvalidPublishName", "BadRequestNotSupported"})


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of the service's answer, if one came."""
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def error_code(exc: BaseException) -> str | None:
    """The Custom Vision error code (`BadRequestTrainingNotNeeded`, ...) of an SDK exception, if any."""
    return getattr(getattr(exc, "error", None), "code", None)


_REASON = re.compile(r"\[Errno -?\d+\] [^'\")]+|Read timed out|timed out|Connection aborted|"
                     r"RemoteDisconnected[^'\")]*|too many \d+ error responses")
_REFUSED = ("Connection refused", "actively refused", "[Errno 111]", "[Errno 61]", "[WinError 10061]")


def _causes(exc: BaseException, depth: int = 0):
    """The exception and what it wraps: msrest's inner_exception, urllib3's reason, requests' args, causes."""
    if exc is None or depth > 8:
        return
    yield exc
    for inner in (getattr(exc, "inner_exception", None), getattr(exc, "reason", None), exc.__cause__,
                  exc.__context__, *(a for a in getattr(exc, "args", ()) if isinstance(a, BaseException))):
        if isinstance(inner, BaseException) and inner is not exc:
            yield from _causes(inner, depth + 1)


def is_connection_refused(exc: BaseException) -> bool:
    """No answer because nothing accepted the connection (not a timeout, not a reset)."""
    if not isinstance(exc, ClientRequestError):
        return False
    return any(isinstance(e, ConnectionRefusedError) for e in _causes(exc)) or any(
        marker in str(exc) for marker in _REFUSED)


def transport_reason(exc: BaseException) -> str:
    """A few words on why no answer came: 'connection refused', 'Read timed out', ..."""
    if is_connection_refused(exc):
        return "connection refused"
    found = _REASON.search(str(exc))
    return f"no answer: {found.group(0)}" if found else f"no answer: {type(exc).__name__}"


def as_pipeline_error(exc: BaseException, endpoint: str | None = None) -> PipelineError | None:
    """One clear line for an SDK or transport failure (None: not one of those)."""
    operation = getattr(exc, "cvops_operation", None)
    attempts = getattr(exc, "cvops_attempts", 1)
    after = f" (after {attempts} attempts)" if attempts > 1 else ""
    prefix = f"{operation}: " if operation else ""
    if isinstance(exc, HttpOperationError):
        status, code = status_of(exc), error_code(exc)
        message = getattr(getattr(exc, "error", None), "message", None) or str(exc)
        hint = ""
        if status in (401, 403):
            hint = f" ({getattr(exc, 'cvops_hint', None) or 'check the key, or the role assignment when keyless'})"
        return ServiceError(f"{prefix}the service answered HTTP {status}{' ' + code if code else ''}: "
                            f"{message}{hint}{after}", code, status)
    if isinstance(exc, ClientRequestError):
        endpoint = getattr(exc, "cvops_endpoint", None) or endpoint
        where = f" at {endpoint}" if endpoint else ""
        if getattr(exc, "cvops_not_listening", False):
            field = f"service.{getattr(exc, 'cvops_api', 'training')}_endpoint"
            return ServiceError(f"{prefix}nothing is listening{where} (connection refused): is the service "
                                f"running? Start it (`cvlocal serve`), or correct the port in {field}")
        reason = _REASON.search(str(exc))
        return ServiceError(f"{prefix}cannot reach the service{where}{after}: "
                            f"{reason.group(0) if reason else str(exc)[:300]}")
    if isinstance(exc, TypeError) and "CustomVisionError" in str(exc):
        # msrest cannot build the SDK's error model from an empty body
        return ServiceError(f"{prefix}the service answered an error with an empty body")
    return None
