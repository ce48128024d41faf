"""Quick test (training key, any trained iteration) and prediction (published name)."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from .. import errors
from ..urlfetch import UrlRejected
from .deps import Svc, flag, image_bodies, image_url_body

quick_test = APIRouter(prefix="/training/projects/{project_id}/quicktest", tags=["quicktest"])
prediction = APIRouter(prefix="/prediction/{project_id}", tags=["prediction"])


async def _one_image(svc, request: Request) -> bytes:
    images = await image_bodies(request, svc.settings.max_prediction_image_bytes)
    if len(images) != 1:
        raise errors.bad_request("Send exactly one image.", "BadRequestImageStream")
    return images[0]


async def _image_at(svc, request: Request) -> bytes:
    url = await image_url_body(request)
    try:
        return await run_in_threadpool(svc.fetcher.fetch, url, svc.settings.max_prediction_image_bytes)
    except UrlRejected as exc:
        raise errors.bad_request(str(exc), "BadRequestImageUrl")


async def _predict(svc, project_id: str, iteration, data: bytes, store: bool, application: str | None):
    return await run_in_threadpool(svc.predictor.classify, project_id, iteration, data, store, application)


@quick_test.post("/image")
async def quick_test_image(svc: Svc, project_id: str, request: Request,
                           iteration_id: str | None = Query(None, alias="iterationId"), store: str | None = None):
    iteration = svc.store.completed_iteration(project_id, iteration_id)
    return await _predict(svc, project_id, iteration, await _one_image(svc, request), flag(store, True), None)


@quick_test.post("/url")
async def quick_test_image_url(svc: Svc, project_id: str, request: Request,
                               iteration_id: str | None = Query(None, alias="iterationId"),
                               store: str | None = None):
    iteration = svc.store.completed_iteration(project_id, iteration_id)
    return await _predict(svc, project_id, iteration, await _image_at(svc, request), flag(store, True), None)


def _published(svc, project_id: str, name: str):
    return svc.store.published(project_id, name)


@prediction.post("/classify/iterations/{published_name}/image")
async def classify_image(svc: Svc, project_id: str, published_name: str, request: Request,
                         application: str | None = None):
    iteration = _published(svc, project_id, published_name)
    return await _predict(svc, project_id, iteration, await _one_image(svc, request), True, application)


@prediction.post("/classify/iterations/{published_name}/image/nostore")
async def classify_image_with_no_store(svc: Svc, project_id: str, published_name: str, request: Request,
                                       application: str | None = None):
    iteration = _published(svc, project_id, published_name)
    return await _predict(svc, project_id, iteration, await _one_image(svc, request), False, application)


@prediction.post("/classify/iterations/{published_name}/url")
async def classify_image_url(svc: Svc, project_id: str, published_name: str, request: Request,
                             application: str | None = None):
    iteration = _published(svc, project_id, published_name)
    return await _predict(svc, project_id, iteration, await _image_at(svc, request), True, application)


@prediction.post("/classify/iterations/{published_name}/url/nostore")
async def classify_image_url_with_no_store(svc: Svc, project_id: str, published_name: str, request: Request,
                                           application: str | None = None):
    iteration = _published(svc, project_id, published_name)
    return await _predict(svc, project_id, iteration, await _image_at(svc, request), False, application)


@prediction.post("/detect/iterations/{published_name}/{rest:path}")
def detect_image(project_id: str, published_name: str, rest: str):
    raise errors.bad_request("Object detection is not supported by this service: it trains and serves image "
                             "classification projects.", "BadRequestNotSupported")
