"""Quick test: any trained iteration, with the training key, before it is published (classified or, for an
object detection iteration, detected)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from ..serving.classify import detect, one_image, predict
from ..training.domains import is_detection
from .deps import Svc, image_at
from .schemas.predictions import ImagePrediction, QuickTestQuery

router = APIRouter(prefix="/training/projects/{project_id}/quicktest", tags=["quicktest"])


@router.post("/image")
async def quick_test_image(svc: Svc, project_id: str, request: Request,
                           q: Annotated[QuickTestQuery, Query()]) -> ImagePrediction:
    iteration = svc.store.completed_iteration(project_id, q.iteration_id)
    run = detect if is_detection(iteration.domain_id) else predict
    return await run(svc.predictor, project_id, iteration, await one_image(svc.predictor, request), q.store, None)


@router.post("/url")
async def quick_test_image_url(svc: Svc, project_id: str, request: Request,
                               q: Annotated[QuickTestQuery, Query()]) -> ImagePrediction:
    iteration = svc.store.completed_iteration(project_id, q.iteration_id)
    run = detect if is_detection(iteration.domain_id) else predict
    return await run(svc.predictor, project_id, iteration, await image_at(svc, request), q.store, None)
