"""Prediction with a published iteration, as one operation table: FastAPI registers every entry, and the gateway
serves the entries that name a direct endpoint (the classify-image hot path) itself, from the same paths."""
from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request

from .. import errors
from ..serving.classify import classify_published, predict, serve_classify
from .deps import Svc, image_at
from .operations import Operation
from .schemas.predictions import ImagePrediction, PredictionQuery

CLASSIFY = "/prediction/{project_id}/classify/iterations/{published_name}"


def _image(store: bool):
    async def classify(svc: Svc, project_id: str, published_name: str, request: Request,
                       q: Annotated[PredictionQuery, Query()]) -> ImagePrediction:
        return await classify_published(svc.predictor, request, project_id, published_name, store, q.application)
    return classify


def _url(store: bool):
    async def classify(svc: Svc, project_id: str, published_name: str, request: Request,
                       q: Annotated[PredictionQuery, Query()]) -> ImagePrediction:
        iteration = svc.store.published(project_id, published_name)
        return await predict(svc.predictor, project_id, iteration, await image_at(svc, request), store,
                             q.application)
    return classify


def detect(project_id: str, published_name: str, rest: str):
    raise errors.not_supported("Object detection is not supported by this service: it trains and serves image "
                               "classification projects.")


OPERATIONS = (
    Operation("classify_image", "POST", CLASSIFY + "/image", _image(store=True),
              direct=partial(serve_classify, store=True)),
    Operation("classify_image_with_no_store", "POST", CLASSIFY + "/image/nostore", _image(store=False),
              direct=partial(serve_classify, store=False)),
    Operation("classify_image_url", "POST", CLASSIFY + "/url", _url(store=True)),
    Operation("classify_image_url_with_no_store", "POST", CLASSIFY + "/url/nostore", _url(store=False)),
    Operation("detect_image", "POST", "/prediction/{project_id}/detect/iterations/{published_name}/{rest:path}",
              detect),
)

router = APIRouter(tags=["prediction"])
for _operation in OPERATIONS:
    router.add_api_route(_operation.path, _operation.endpoint, methods=[_operation.method], name=_operation.name,
                         summary=_operation.name)
