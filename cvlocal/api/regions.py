"""Regions of an object detection project's images: create them in batches, delete them, and the regions a
trained detector proposes for an image (the boxes a labeller starts from). Regions also come with uploads
(api/uploads.py)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import field_validator

from .. import errors
from ..training.domains import require_project_type
from ..training.rules import MAX_REGIONS_PER_IMAGE
from .deps import Svc
from .schemas.common import IdList, Wire, json_model
from .schemas.regions import (MAX_REGIONS_PER_CALL, BoundingBox, ImageRegionCreateBatch, ImageRegionCreateEntry,
                              ImageRegionCreateResult, ImageRegionCreateSummary, ImageRegionProposal, RegionProposal)

router = APIRouter(prefix="/training/projects/{project_id}/images", tags=["regions"])


class RegionDeleteQuery(Wire):
    """delete_image_regions: 1 to 64 region ids."""
    region_ids: IdList = []

    @field_validator("region_ids")
    @classmethod
    def _one_to_64(cls, ids: list[str]) -> list[str]:
        if not ids or len(ids) > MAX_REGIONS_PER_CALL:
            raise errors.bad_request(f"Name 1 to {MAX_REGIONS_PER_CALL} regions (regionIds).", "BadRequestInvalidIds")
        return ids


def _detection_project(svc, project_id: str, operation: str) -> None:
    require_project_type(svc.store.project(project_id).domain_id, True, operation)


@router.post("/regions", summary="create_image_regions")
def create_image_regions(svc: Svc, project_id: str,
                         batch: ImageRegionCreateBatch = json_model(
                             ImageRegionCreateBatch, code="BadRequestImageRegions",
                             required='The body must be {"regions": [{"imageId", "tagId", "left", "top", "width", '
                                      '"height"}]}.')):
    """200 when every region was created, else 207 with the duplicated and exceeded ones (Azure's statuses)."""
    _detection_project(svc, project_id, "create_image_regions")
    added = svc.store.add_regions(project_id, batch.entries(), MAX_REGIONS_PER_IMAGE)
    summary = ImageRegionCreateSummary(
        created=[ImageRegionCreateResult.created_for(entry, region) for entry, region in added.created],
        duplicated=[ImageRegionCreateEntry.of(e) for e in added.duplicated],
        exceeded=[ImageRegionCreateEntry.of(e) for e in added.exceeded])
    ok = not added.duplicated and not added.exceeded
    return JSONResponse(summary.model_dump(mode="json", by_alias=True), status_code=200 if ok else 207)


@router.delete("/regions", status_code=204, summary="delete_image_regions")
def delete_image_regions(svc: Svc, project_id: str, q: Annotated[RegionDeleteQuery, Query()]):
    _detection_project(svc, project_id, "delete_image_regions")
    svc.store.delete_regions(project_id, q.region_ids)
    return Response(status_code=204)


@router.post("/{image_id}/regionproposals", summary="get_image_region_proposals")
async def get_image_region_proposals(svc: Svc, project_id: str, image_id: str) -> ImageRegionProposal:
    """The boxes the project's newest trained iteration proposes for one of its images, whatever their tag, most
    confident first (refused, as Azure does, until the project has a trained iteration)."""
    _detection_project(svc, project_id, "get_image_region_proposals")
    image = svc.store.image(project_id, image_id)
    iteration = svc.store.completed_iteration(project_id, None)
    found = await run_in_threadpool(svc.predictor.region_proposals, iteration, svc.store.blobs.get(image.sha256))
    proposals = [RegionProposal(confidence=float(c), bounding_box=BoundingBox(left=left, top=top, width=width,
                                                                              height=height))
                 for c, left, top, width, height in sorted(found, key=lambda p: -p[0])]
    return ImageRegionProposal(project_id=project_id, image_id=image_id, proposals=proposals)
