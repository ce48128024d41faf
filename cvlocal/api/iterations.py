"""Training, iterations, performance and publishing (the rules a training must meet: training/rules.py)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from .. import errors
from ..training import rules
from ..training.domains import is_detection
from .deps import Svc, base_url
from .schemas.common import json_model
from .schemas.images import ImagePerformance, ImagePerformanceCountQuery, ImagePerformanceQuery
from .schemas.iterations import (Iteration, IterationPerformance, IterationUpdate, PerformanceQuery, PublishQuery,
                                 TrainingParameters, TrainQuery)
from .schemas.predictions import detection_predictions

router = APIRouter(prefix="/training/projects/{project_id}", tags=["iterations"])


@router.post("/train")
def train_project(svc: Svc, project_id: str, q: Annotated[TrainQuery, Query()],
                  body: TrainingParameters | None = json_model(TrainingParameters)) -> Iteration:
    project = svc.store.project(project_id)
    detection = is_detection(project.domain_id)
    selected = body.selected_tags if body else None
    if selected:
        svc.store.require_tags(project_id, selected)
    training_set = svc.store.training_set(project_id, selected or None, with_regions=detection)
    (rules.check_detection_set if detection else rules.check_training_set)(training_set)
    iteration = svc.store.create_iteration(project, training_set, q.training_type, q.reserved_budget_in_hours,
                                           q.force_train, svc.settings.tier.iterations_per_project)
    svc.training.submit(iteration.id)
    return Iteration.of(iteration)


@router.get("/iterations")
def get_iterations(svc: Svc, project_id: str) -> list[Iteration]:
    svc.store.project(project_id)
    return [Iteration.of(i) for i in svc.store.iterations(project_id)]


@router.get("/iterations/{iteration_id}")
def get_iteration(svc: Svc, project_id: str, iteration_id: str) -> Iteration:
    return Iteration.of(svc.store.iteration(project_id, iteration_id))


@router.patch("/iterations/{iteration_id}")
def update_iteration(svc: Svc, project_id: str, iteration_id: str,
                     body: IterationUpdate = json_model(IterationUpdate, code="BadRequestIterationName",
                                                        required='The body must be {"name": "..."}.')) -> Iteration:
    return Iteration.of(svc.store.rename_iteration(project_id, iteration_id, body.name))


@router.delete("/iterations/{iteration_id}", status_code=204)
def delete_iteration(svc: Svc, project_id: str, iteration_id: str):
    svc.store.delete_iteration(project_id, iteration_id)
    svc.predictor.forget_iteration(iteration_id)
    return Response(status_code=204)


@router.get("/iterations/{iteration_id}/performance")
def get_iteration_performance(svc: Svc, project_id: str, iteration_id: str,
                              q: Annotated[PerformanceQuery, Query()]) -> IterationPerformance:
    return svc.performance.at(svc.store.iteration(project_id, iteration_id), q.threshold, q.overlap)


@router.get("/iterations/{iteration_id}/performance/images")
def get_image_performances(svc: Svc, project_id: str, iteration_id: str, request: Request,
                           q: Annotated[ImagePerformanceQuery, Query()]) -> list[ImagePerformance]:
    """The held-out results per image: the images as the iteration trained on them (still in the project), each
    with the probabilities of the cross-validation head that did not see it (model/evaluation.py), or, for object
    detection, the boxes a model that did not train on it detected."""
    iteration = svc.store.iteration(project_id, iteration_id)
    if is_detection(iteration.domain_id):
        return _detection_performances(svc, project_id, iteration, request, q)
    held_out = svc.performance.held_out(iteration)
    _, _, snapshot = svc.store.trained_on(project_id, iteration_id)
    if len(snapshot) != len(held_out.probabilities):
        raise errors.internal(f"The held-out results of {iteration.name} do not match its training set.")
    row_of = {sha: row for row, (sha, _) in enumerate(snapshot)}  # held-out rows follow the training set's order
    base = base_url(request)
    return [ImagePerformance.of(image, held_out.probabilities[row_of[image.sha256]], iteration.tags, svc.links, base)
            for image in svc.store.images(project_id, q.listing(iteration_id))]


def _detection_performances(svc, project_id: str, iteration, request: Request,
                            q: ImagePerformanceQuery) -> list[ImagePerformance]:
    found, _ = svc.performance.detections(iteration)
    _, _, snapshot = svc.store.trained_on(project_id, iteration.id)
    row_of = {sha: row for row, (sha, _) in enumerate(snapshot)}
    base = base_url(request)
    return [ImagePerformance.with_predictions(image, detection_predictions(found.detections[row_of[image.sha256]],
                                                                           iteration.tags), svc.links, base)
            for image in svc.store.images(project_id, q.listing(iteration.id))]


@router.get("/iterations/{iteration_id}/performance/images/count")
def get_image_performance_count(svc: Svc, project_id: str, iteration_id: str,
                                q: Annotated[ImagePerformanceCountQuery, Query()]) -> int:
    iteration = svc.store.iteration(project_id, iteration_id)
    # refused until it has trained
    (svc.performance.detections if is_detection(iteration.domain_id) else svc.performance.held_out)(iteration)
    return svc.store.image_count(project_id, q.query(iteration_id))


@router.post("/iterations/{iteration_id}/publish")
def publish_iteration(svc: Svc, project_id: str, iteration_id: str, q: Annotated[PublishQuery, Query()]) -> bool:
    svc.store.publish(project_id, iteration_id, q.publish_name, q.prediction_id, q.overwrite)
    return True


@router.delete("/iterations/{iteration_id}/publish", status_code=204)
def unpublish_iteration(svc: Svc, project_id: str, iteration_id: str):
    svc.store.unpublish(project_id, iteration_id)
    return Response(status_code=204)
