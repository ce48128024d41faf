"""Prediction with a published iteration, as one operation table: FastAPI registers every entry, and the gateway
serves the entries that name a direct endpoint (the classify-image hot path) itself, from the same paths.
classify_* answer for classification iterations, detect_* for object detection ones (each refuses the other)."""
from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request

from ..serving.classify import classify_published, detect, one_image, predict, serve_classify
from .deps import Svc, image_at
from .operations import Operation
from .schemas.predictions import ImagePrediction, PredictionQuery

CLASSIFY = "/prediction/{project_id}/classify/iterations/{published_name}"


def _image(store: bool):
    async def classify(svc: Svc, project_id: str, published_name: str, request: Request,
                       q: Annotated[PredictionQuery, Query()]) -> ImagePrediction:
        return await classify_published(svc.predictor, request, project_id, published_name, store, q.application)
    return classify


async def _uploaded(svc: Svc, request: Request) -> bytes:
    return await one_image(svc.predictor, request)


def _published(run, image, store: bool):
    """An endpoint that reads the image (`image`: the request's upload, or the URL it names) and has `run`
    (predict: classify; detect) answer with the published iteration."""
    async def endpoint(svc: Svc, project_id: str, published_name: str, request: Request,
                       q: Annotated[PredictionQuery, Query()]) -> ImagePrediction:
        iteration = svc.predictor.published(project_id, published_name)
        return await run(svc.predictor, project_id, iteration, await image(svc, request), store, q.application)
    return endpoint


DETECT = "/prediction/{project_id}/detect/iterations/{published_name}"


OPERATIONS = (
    Operation("classify_image", "POST", CLASSIFY + "/image", _image(store=True),
              direct=partial(serve_classify, store=True)),
    Operation("classify_image_with_no_store", "POST", CLASSIFY + "/image/nostore", _image(store=False),
              direct=partial(serve_classify, store=False)),
    Operation("classify_image_url", "POST", CLASSIFY + "/url", _published(predict, image_at, store=True)),
    Operation("classify_image_url_with_no_store", "POST", CLASSIFY + "/url/nostore",
              _published(predict, image_at, store=False)),
    Operation("detect_image", "POST", DETECT + "/image", _published(detect, _uploaded, store=True)),
    Operation("detect_image_with_no_store", "POST", DETECT + "/image/nostore",
              _published(detect, _uploaded, store=False)),
    Operation("detect_image_url", "POST", DETECT + "/url", _published(detect, image_at, store=True)),
    Operation("detect_image_url_with_no_store", "POST", DETECT + "/url/nostore",
              _published(detect, image_at, store=False)),
)

router = APIRouter(tags=["prediction"])
for _operation in OPERATIONS:
    router.add_api_route(_operation.path, _operation.endpoint, methods=[_operation.method], name=_operation.name,
                         summary=_operation.name)
