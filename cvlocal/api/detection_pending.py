"""Object detection's training operations (regions, region proposals, suggested tags and regions), answered
with Custom Vision's refusal until this service trains detectors, so an SDK client is told what is missing
instead of finding no route. Object detection replaces this module with the real routes."""
from __future__ import annotations

from fastapi import APIRouter

from .. import errors

router = APIRouter(prefix="/training/projects/{project_id}", tags=["object detection"])


def _refuse(operation: str):
    raise errors.not_supported(f"{operation} is for object detection projects; this service trains image "
                               "classification projects only, for now.")


@router.post("/images/regions", summary="create_image_regions")
def create_image_regions(project_id: str):
    _refuse("create_image_regions")


@router.delete("/images/regions", summary="delete_image_regions")
def delete_image_regions(project_id: str):
    _refuse("delete_image_regions")


@router.post("/images/{image_id}/regionproposals", summary="get_image_region_proposals")
def get_image_region_proposals(project_id: str, image_id: str):
    _refuse("get_image_region_proposals")


@router.post("/tagsandregions/suggestions", summary="suggest_tags_and_regions")
def suggest_tags_and_regions(project_id: str):
    _refuse("suggest_tags_and_regions")


@router.post("/images/suggested", summary="query_suggested_images")
def query_suggested_images(project_id: str):
    _refuse("query_suggested_images")


@router.post("/images/suggested/count", summary="query_suggested_image_count")
def query_suggested_image_count(project_id: str):
    _refuse("query_suggested_image_count")
