"""Quick test (training key, any trained iteration) and prediction (published name)."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from .. import errors
from ..urlfetch import UrlRejected
from .classify import classify_image, one_image, predict
from .deps import Svc, flag, image_url_body

quick_test = APIRouter(prefix="/training/projects/{project_id}/quicktest", tags=["quicktest"])
prediction = APIRouter(prefix="/prediction/{project_id}", tags=["prediction"])


async def _image_at(svc, request: Request) -> bytes:
    url = await image_url_body(request)
    try:
        return await run_in_threadpool(svc.fetcher.fetch, url, svc.settings.max_prediction_image_bytes)
    except UrlRejected as exc:
        raise errors.bad_request(str(exc), "BadRequestImageUrl")


@quick_test.post("/image")
async def quick_test_image(svc: Svc, project_id: str, request: Request,
                           iteration_id: str | None = Query(None, alias="iterationId"), store: str | None = None):
    iteration = svc.store.completed_iteration(project_id, iteration_id)
    return await predict(svc, project_id, iteration, await one_image(svc, request), flag(store, True), None)


@quick_test.post("/url")
async def quick_test_image_url(svc: Svc, project_id: str, request: Request,
                               iteration_id: str | None = Query(None, alias="iterationId"),
                               store: str | None = None):
    iteration = svc.store.completed_iteration(project_id, iteration_id)
    return await predict(svc, project_id, iteration, await _image_at(svc, request), flag(store, True), None)


def _classify(source: str, store: bool):
    """POST /classify/iterations/{published name}/image|url[/nostore]: one handler per route, same steps.

    The gateway serves the image routes itself (classify.serve_classify, through the same classify_image)."""
    async def classify(svc: Svc, project_id: str, published_name: str, request: Request,
                       application: str | None = None):
        if source == "image":
            return await classify_image(svc, request, project_id, published_name, store, application)
        iteration = svc.store.published(project_id, published_name)
        return await predict(svc, project_id, iteration, await _image_at(svc, request), store, application)

    classify.__name__ = f"classify_image{'_url' if source == 'url' else ''}{'' if store else '_with_no_store'}"
    return classify


for _source in ("image", "url"):
    for _store in (True, False):
        _handler = _classify(_source, _store)
        prediction.add_api_route(f"/classify/iterations/{{published_name}}/{_source}{'' if _store else '/nostore'}",
                                 _handler, methods=["POST"], name=_handler.__name__)


@prediction.post("/detect/iterations/{published_name}/{rest:path}")
def detect_image(project_id: str, published_name: str, rest: str):
    raise errors.bad_request("Object detection is not supported by this service: it trains and serves image "
                             "classification projects.", "BadRequestNotSupported")
