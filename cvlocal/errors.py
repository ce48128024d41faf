"""One error type and one factory with Custom Vision's error codes and exact statuses.

Handlers, request models and the store just raise; api/application.py (and, for what it serves itself, the
gateway) serialises every error as `{"code", "message"}` at the top level, which is the only shape the
official SDK turns into `CustomVisionErrorException` with `e.error.code`.
"""
from __future__ import annotations

import json


class CustomVisionError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def bad_request(message: str, code: str = "BadRequest") -> CustomVisionError:
    return CustomVisionError(400, code, message)


def unauthorized(message: str) -> CustomVisionError:
    return CustomVisionError(401, "Unauthorized", message)


def not_supported(message: str, code: str = "BadRequestNotSupported") -> CustomVisionError:
    """Something Azure does that this service does not (object detection, notification queues, ...)."""
    return CustomVisionError(400, code, message)


def not_found(message: str = "The requested resource was not found.", code: str = "NotFound") -> CustomVisionError:
    return CustomVisionError(404, code, message)


NO_ROUTE = "No route"


def no_route(method: str, path: str, hint: str = "") -> CustomVisionError:
    """No operation answers this method on this path: routing's answer (gateway, FastAPI), which a client tells
    from a resource not found by the message's start (tests/integration/test_sdk_surface.py relies on it)."""
    return not_found(f"{NO_ROUTE} {method} {path}.{' ' + hint if hint else ''}")


def not_found_project(project_id: str) -> CustomVisionError:
    return not_found(f"Project {project_id} was not found.", "NotFoundProject")


def not_found_tag(tag_id: str) -> CustomVisionError:
    return not_found(f"Tag {tag_id} was not found in this project.", "NotFoundTag")


def not_found_iteration(iteration_id: str) -> CustomVisionError:
    return not_found(f"Iteration {iteration_id} was not found in this project.", "NotFoundIteration")


def not_found_image(image_id: str) -> CustomVisionError:
    return not_found(f"Image {image_id} was not found in this project.", "NotFoundImage")


def not_found_domain(domain_id: str) -> CustomVisionError:
    return not_found(f"Domain {domain_id} does not exist.", "NotFoundDomain")


def not_published(project_id: str, name: str) -> CustomVisionError:
    return not_found(f"No iteration of project {project_id} is published as '{name}'.", "NotFound")


def invalid_import_token(reason: str) -> CustomVisionError:
    """import_project's token is expired, truncated, altered, or not one this service can import from."""
    return bad_request(f"The import token is not valid: {reason}.", "BadRequestInvalidImportToken")


def import_failed(reason: str) -> CustomVisionError:
    """import_project could not bring the exported project from the service that exported it."""
    return CustomVisionError(500, "ErrorProjectImportRequestFailed", f"The import failed: {reason}.")


def too_large(message: str, code: str = "BadRequestImageSizeBytes") -> CustomVisionError:
    return CustomVisionError(413, code, message)


def too_many_requests(retry_after: int) -> CustomVisionError:
    return CustomVisionError(429, "TooManyRequests", "Rate limit is exceeded. Try again later.",
                             {"Retry-After": str(retry_after)})


def unavailable(message: str = "The service is temporarily unavailable.") -> CustomVisionError:
    return CustomVisionError(503, "ErrorPredictionServiceUnavailable", message, {"Retry-After": "1"})


def internal(message: str = "An unexpected error occurred.") -> CustomVisionError:
    return CustomVisionError(500, "ErrorUnknown", message)


async def send_error(send, error: CustomVisionError) -> None:
    """Answer an ASGI request with `error` (for the parts that answer before or beside FastAPI)."""
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
