"""The prediction hot path: `POST /prediction/{project}/classify/iterations/{name}/image[/nostore]`.

Apps call this route far more often than all the others together, and each call is mostly model work
(decode and backbone, about 13 ms). Through FastAPI's stack (its middleware, dependency solving and answer
encoding) a request also cost about a millisecond of the event loop, which the model's cores then lack. So
the gateway hands these requests straight to `serve_classify`. The FastAPI routes of the same paths stay for
the OpenAPI document and for callers that mount the app without the gateway; both sides go through
`classify_image`, so they cannot drift apart.
"""
from __future__ import annotations

import json
import logging
import re
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from .. import errors
from .deps import Services, image_bodies

log = logging.getLogger("cvlocal.classify")
ROUTE = re.compile(r"^/prediction/(?P<project_id>[^/]+)/classify/iterations/(?P<name>[^/]+)/image"
                   r"(?P<nostore>/nostore)?/?$")
JSON_HEADERS = [(b"content-type", b"application/json")]


async def one_image(svc: Services, request: Request) -> bytes:
    images = await image_bodies(request, svc.settings.max_prediction_image_bytes, count=1)
    if len(images) != 1:
        raise errors.bad_request("Send exactly one image.", "BadRequestImageStream")
    return images[0]


async def predict(svc: Services, project_id: str, iteration, data: bytes, store: bool,
                  application: str | None) -> dict:
    return await run_in_threadpool(svc.predictor.classify, project_id, iteration, data, store, application)


async def classify_image(svc: Services, request: Request, project_id: str, published_name: str, store: bool,
                         application: str | None) -> dict:
    """Classify the posted image with the iteration published under `published_name`."""
    iteration = svc.store.published(project_id, published_name)
    return await predict(svc, project_id, iteration, await one_image(svc, request), store, application)


def _application(query_string: bytes) -> str | None:
    if not query_string:
        return None
    for key, values in parse_qs(query_string.decode("latin-1")).items():
        if key.lower() == "application":
            return values[-1]
    return None


async def serve_classify(svc: Services, scope, receive, send, *, route: re.Match) -> None:
    """The whole request as plain ASGI: errors leave as Custom Vision's JSON, like everywhere else."""
    try:
        answer = await classify_image(svc, Request(scope, receive), route["project_id"], route["name"],
                                      store=route["nostore"] is None,
                                      application=_application(scope.get("query_string", b"")))
    except errors.CustomVisionError as error:
        return await errors.send_error(send, error)
    except ClientDisconnect:  # the client left before its image arrived: nobody to answer, nothing went wrong
        return
    except Exception as exc:
        log.exception("unexpected error on %s %s", scope["method"], scope["path"])
        return await errors.send_error(send, errors.internal(f"An unexpected error occurred ({type(exc).__name__})."))
    body = json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": JSON_HEADERS + [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
