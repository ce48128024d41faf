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


def _url(store: bool):
    async def classify(svc: Svc, project_id: str, published_name: str, request: Request,
                       q: Annotated[PredictionQuery, Query()]) -> ImagePrediction:
        iteration = svc.store.published(project_id, published_name)
        return await predict(svc.predictor, project_id, iteration, await image_at(svc, request), store,
                             q.application)
    return classify


DETECT = "/prediction/{project_id}/detect/iterations/{published_name}"


def _detect_image(store: bool):
    async def detect_image(svc: Svc, project_id: str, published_name: str, request: Request,
                           q: Annotated[PredictionQuery, Query()]) -> ImagePrediction:
        iteration = svc.predictor.published(project_id, published_name)
        return await detect(svc.predictor, project_id, iteration, await one_image(svc.predictor, request), store,
                            q.application)
    return detect_image


def _detect_url(store: bool):
    async def detect_image_url(svc: Svc, project_id: str, published_name: str, request: Request,
                               q: Annotated[PredictionQuery, Query()]) -> ImagePrediction:
        iteration = svc.store.published(project_id, published_name)
        return await detect(svc.predictor, project_id, iteration, await image_at(svc, request), store,
                            q.application)
    return detect_image_url


OPERATIONS = (
    Operation("classify_image", "POST", CLASSIFY + "/image", _image(store=True),
              direct=partial(serve_classify, store=True)),
    Operation("classify_image_with_no_store", "POST", CLASSIFY + "/image/nostore", _image(store=False),
              direct=partial(serve_classify, store=False)),
    Operation("classify_image_url", "POST", CLASSIFY + "/url", _url(store=True)),
    Operation("classify_image_url_with_no_store", "POST", CLASSIFY + "/url/nostore", _url(store=False)),
    Operation("detect_image", "POST", DETECT + "/image", _detect_image(store=True)),
    Operation("detect_image_with_no_store", "POST", DETECT + "/image/nostore", _detect_image(store=False)),
    Operation("detect_image_url", "POST", DETECT + "/url", _detect_url(store=True)),
    Operation("detect_image_url_with_no_store", "POST", DETECT + "/url/nostore", _detect_url(store=False)),
)

router = APIRouter(tags=["prediction"])
for _operation in OPERATIONS:
    router.add_api_route(_operation.path, _operation.endpoint, methods=[_operation.method], name=_operation.name,
                         summary=_operation.name)
