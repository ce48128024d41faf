"""Training, iterations, performance, publishing and export."""
from __future__ import annotations

import threading

from fastapi import APIRouter, Query, Request, Response

from .. import errors
from ..domains import get_domain
from ..models import export_json, iteration_json
from .deps import Svc, base_url, flag, json_object

router = APIRouter(prefix="/training/projects/{project_id}", tags=["iterations"])
TRAINING_TYPES = ("Regular", "Advanced")


@router.post("/train")
async def train_project(svc: Svc, project_id: str, request: Request,
                        training_type: str | None = Query(None, alias="trainingType"),
                        reserved_budget_in_hours: int = Query(0, alias="reservedBudgetInHours"),
                        force_train: str | None = Query(None, alias="forceTrain"),
                        notification_email_address: str | None = Query(None, alias="notificationEmailAddress")):
    project = svc.store.project(project_id)
    training_type = training_type or "Regular"
    if training_type not in TRAINING_TYPES:
        raise errors.bad_request(f"Unknown trainingType '{training_type}'; use Regular or Advanced.")
    if training_type == "Advanced" and reserved_budget_in_hours < 1:
        raise errors.bad_request("Advanced training needs reservedBudgetInHours of at least 1.",
                                 "BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining")
    body = await json_object(request)
    selected = body.get("selectedTags")
    if selected is not None and not (isinstance(selected, list) and all(isinstance(t, str) for t in selected)):
        raise errors.bad_request("selectedTags must be a list of tag ids.")
    if selected:
        svc.store.require_tags(project_id, selected)
    row = svc.store.create_iteration(project, training_type, reserved_budget_in_hours, flag(force_train),
                                     selected or None)
    delay = svc.settings.faults.train_delay_s  # fault injection: a training that takes a while
    if delay:
        timer = threading.Timer(delay, svc.trainer.submit, [row["id"]])
        timer.daemon = True
        timer.start()
    else:
        svc.trainer.submit(row["id"])
    return iteration_json(row)


@router.get("/iterations")
def get_iterations(svc: Svc, project_id: str):
    svc.store.project(project_id)
    return [iteration_json(r) for r in svc.store.iterations(project_id)]


@router.get("/iterations/{iteration_id}")
def get_iteration(svc: Svc, project_id: str, iteration_id: str):
    return iteration_json(svc.store.iteration(project_id, iteration_id))


@router.patch("/iterations/{iteration_id}")
async def update_iteration(svc: Svc, project_id: str, iteration_id: str, request: Request):
    body = await json_object(request)
    name = body.get("name")
    if not isinstance(name, str):
        raise errors.bad_request('The body must be {"name": "..."}.', "BadRequestIterationName")
    return iteration_json(svc.store.rename_iteration(project_id, iteration_id, name))


@router.delete("/iterations/{iteration_id}", status_code=204)
def delete_iteration(svc: Svc, project_id: str, iteration_id: str):
    svc.store.delete_iteration(project_id, iteration_id)
    svc.predictor.forget_iteration(iteration_id)
    return Response(status_code=204)


@router.get("/iterations/{iteration_id}/performance")
def get_iteration_performance(svc: Svc, project_id: str, iteration_id: str, threshold: float = 0.5,
                              overlap_threshold: float | None = Query(None, alias="overlapThreshold")):
    if not 0.0 <= threshold <= 1.0:
        raise errors.bad_request("threshold must be between 0 and 1.")
    row = svc.store.iteration(project_id, iteration_id)
    if row["status"] != "Completed":
        raise errors.bad_request(f"{row['name']} is {row['status']}; performance exists once it has trained.",
                                 "BadRequestIterationIsNotTrained")
    return svc.trainer.performance(row, threshold)


@router.post("/iterations/{iteration_id}/publish")
def publish_iteration(svc: Svc, project_id: str, iteration_id: str,
                      publish_name: str = Query("", alias="publishName"),
                      prediction_id: str = Query("", alias="predictionId"), overwrite: str | None = None):
    svc.store.publish(project_id, iteration_id, publish_name, prediction_id, flag(overwrite))
    return True


@router.delete("/iterations/{iteration_id}/publish", status_code=204)
def unpublish_iteration(svc: Svc, project_id: str, iteration_id: str):
    svc.store.unpublish(project_id, iteration_id)
    return Response(status_code=204)


@router.post("/iterations/{iteration_id}/export")
def export_iteration(svc: Svc, project_id: str, iteration_id: str, request: Request, platform: str = "",
                     flavor: str | None = None):
    row = svc.store.completed_iteration(project_id, iteration_id)
    if platform != "ONNX":
        raise errors.bad_request(f"Export to '{platform}' is not supported by this service; use platform=ONNX.",
                                 "BadRequestExportValidationFailed")
    if not get_domain(row["domain_id"]).exportable:
        raise errors.bad_request(f"{row['name']} was trained on a domain that cannot be exported; use a compact "
                                 "domain.", "BadRequestExportValidationFailed")
    export = svc.trainer.export(row, platform, flavor)
    return export_json(export, base_url(request))


@router.get("/iterations/{iteration_id}/export")
def get_exports(svc: Svc, project_id: str, iteration_id: str, request: Request):
    svc.store.iteration(project_id, iteration_id)
    base = base_url(request)
    return [export_json(r, base) for r in svc.store.exports(iteration_id)]
