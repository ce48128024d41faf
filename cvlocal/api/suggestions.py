"""Suggested tags and regions: a trained iteration's predictions for the project's untagged images (the portal's
"smart labeler"), kept when asked for, and the untagged images listed and counted by them.

Honest by construction: a suggestion is what the named iteration's model predicts for the image, now (refused,
as Azure refuses, for an iteration that has not trained: BadRequestIterationIsNotTrained, NotFoundIteration).
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from ..store import utcnow
from .deps import Svc, base_url
from .schemas.common import json_model
from .schemas.suggestions import (StoredSuggestedTagAndRegion, SuggestedIterationQuery, SuggestedTagAndRegion,
                                  SuggestedTagAndRegionQuery, SuggestedTagAndRegionQueryToken, SuggestQuery,
                                  TagFilter, uncertainty)

router = APIRouter(prefix="/training/projects/{project_id}", tags=["suggestions"])


@router.post("/tagsandregions/suggestions", summary="suggest_tags_and_regions")
async def suggest_tags_and_regions(svc: Svc, project_id: str,
                                   q: Annotated[SuggestQuery, Query()]) -> list[SuggestedTagAndRegion]:
    iteration = svc.store.completed_iteration(project_id, q.iteration_id or None)
    images = [svc.store.image(project_id, image_id) for image_id in q.image_ids]  # NotFoundImage before any work

    def suggest_all() -> list[tuple[str, list[dict], float, str]]:
        made = []
        for image in images:
            predictions = svc.predictor.suggest(iteration, svc.store.blobs.get(image.sha256))
            made.append((image.id, predictions, uncertainty(predictions), utcnow()))
        svc.store.store_suggestions(iteration.id, made)
        return made

    made = await run_in_threadpool(suggest_all)
    return [SuggestedTagAndRegion(id=image_id, project=project_id, iteration=iteration.id, created=created,
                                  predictions=predictions, prediction_uncertainty=unsure)
            for image_id, predictions, unsure, created in made]


@router.post("/images/suggested", summary="query_suggested_images")
def query_suggested_images(svc: Svc, project_id: str, request: Request,
                           q: Annotated[SuggestedIterationQuery, Query()],
                           token: SuggestedTagAndRegionQueryToken | None = json_model(SuggestedTagAndRegionQueryToken)
                           ) -> SuggestedTagAndRegionQuery:
    """The project's untagged images whose suggestion (from suggest_tags_and_regions) by the iteration names any
    of `tagIds` (any tag when empty) at `threshold` or more, the most uncertain first unless sortBy says
    UncertaintyAscending."""
    token = token or SuggestedTagAndRegionQueryToken()
    iteration = svc.store.iteration(project_id, q.iteration_id)
    listed = svc.store.suggested_images(project_id, iteration.id, token.tag_ids, token.threshold,
                                        token.most_uncertain_first, token.skip(), token.max_count + 1)
    base = base_url(request)
    return SuggestedTagAndRegionQuery(token=token.next(len(listed)), results=[
        StoredSuggestedTagAndRegion.of(found, iteration.domain_id, svc.links, base)
        for found in listed[:token.max_count]])


@router.post("/images/suggested/count", summary="query_suggested_image_count")
def query_suggested_image_count(svc: Svc, project_id: str, q: Annotated[SuggestedIterationQuery, Query()],
                                body: TagFilter | None = json_model(TagFilter)) -> dict[str, int]:
    """Per tag of `tagIds`, how many untagged images the iteration suggested it for at `threshold` or more."""
    body = body or TagFilter()
    return svc.store.suggested_counts(project_id, q.iteration_id, body.tag_ids, body.threshold)
