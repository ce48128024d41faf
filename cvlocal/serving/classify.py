"""The prediction hot path: classify an image with a published iteration.

Apps call classify-image far more often than all other operations together, and each call is mostly model work
(decode and backbone). Through FastAPI's stack (its middleware, dependency solving and answer encoding) a
request also cost the event loop time that the model's cores then lack (measured in docs/benchmarks.md). So
the gateway serves the operations that name `serve_classify` in the operation table (api/prediction.py) as
plain ASGI. Their FastAPI endpoints stay, for the OpenAPI document and for apps mounted without the gateway;
both go through `classify_published`, so they cannot drift apart.
"""
from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from .. import errors
from ..net.bodies import image_bodies
from ..store.records import IterationRecord, PublishedIteration
from .predictor import Predictor

log = logging.getLogger("cvlocal.classify")
JSON_HEADERS = [(b"content-type", b"application/json")]


async def one_image(predictor: Predictor, request: Request) -> bytes:
    images = await image_bodies(request, predictor.max_image_bytes, count=1)
    if len(images) != 1:
        raise errors.bad_request("Send exactly one image.", "BadRequestImageStream")
    return images[0]


async def predict(predictor: Predictor, project_id: str, iteration: IterationRecord | PublishedIteration,
                  data: bytes, store: bool, application: str | None) -> dict:
    return await run_in_threadpool(predictor.classify, project_id, iteration, data, store, application)


async def detect(predictor: Predictor, project_id: str, iteration: IterationRecord | PublishedIteration,
                 data: bytes, store: bool, application: str | None) -> dict:
    return await run_in_threadpool(predictor.detect, project_id, iteration, data, store, application)


async def classify_published(predictor: Predictor, request: Request, project_id: str, published_name: str,
                             store: bool, application: str | None) -> dict:
    """Classify the posted image with the iteration published under `published_name`."""
    iteration = predictor.published(project_id, published_name)
    return await predict(predictor, project_id, iteration, await one_image(predictor, request), store, application)


def _application(query_string: bytes) -> str | None:
    if not query_string:
        return None
    for key, values in parse_qs(query_string.decode("latin-1")).items():
        if key.lower() == "application":
            return values[-1]
    return None


async def serve_classify(predictor: Predictor, scope, receive, send, *, project_id: str, published_name: str,
                         store: bool) -> None:
    """The whole request as plain ASGI: errors leave as Custom Vision's JSON, like everywhere else."""
    try:
        answer = await classify_published(predictor, Request(scope, receive), project_id, published_name, store,
                                          _application(scope.get("query_string", b"")))
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
