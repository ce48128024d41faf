"""Tags of a project."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ..store.records import TagChanges
from .deps import Svc
from .schemas.common import json_model
from .schemas.tags import Tag, TagCreate, TagQuery, TagUpdate

router = APIRouter(prefix="/training/projects/{project_id}/tags", tags=["tags"])


@router.get("")
def get_tags(svc: Svc, project_id: str, q: Annotated[TagQuery, Query()]) -> list[Tag]:
    return [Tag.of(t) for t in svc.store.tags(project_id, q.iteration_id)]


@router.post("")
def create_tag(svc: Svc, project_id: str, q: Annotated[TagCreate, Query()]) -> Tag:
    return Tag.of(svc.store.create_tag(project_id, q.name, q.description, q.type or "Regular",
                                       max_tags=svc.settings.tier.tags_per_project))


@router.get("/{tag_id}")
def get_tag(svc: Svc, project_id: str, tag_id: str, q: Annotated[TagQuery, Query()]) -> Tag:
    return Tag.of(svc.store.tag(project_id, tag_id, q.iteration_id))


@router.patch("/{tag_id}")
def update_tag(svc: Svc, project_id: str, tag_id: str, body: TagUpdate | None = json_model(TagUpdate)) -> Tag:
    body = body or TagUpdate()  # an empty body changes nothing
    changes = TagChanges(name=body.name or None, description=body.description, type=body.type)
    return Tag.of(svc.store.update_tag(project_id, tag_id, changes))


@router.delete("/{tag_id}", status_code=204)
def delete_tag(svc: Svc, project_id: str, tag_id: str):
    svc.store.delete_tag(project_id, tag_id)
    return Response(status_code=204)
