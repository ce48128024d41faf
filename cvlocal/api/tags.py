"""Tags of a project."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from ..models import tag_json
from .deps import Svc, json_object, text_field

router = APIRouter(prefix="/training/projects/{project_id}/tags", tags=["tags"])


@router.get("")
def get_tags(svc: Svc, project_id: str, iteration_id: str | None = Query(None, alias="iterationId")):
    return [tag_json(r) for r in svc.store.tags(project_id)]


@router.post("")
def create_tag(svc: Svc, project_id: str, name: str = Query(""), description: str | None = Query(None),
               type: str | None = Query(None)):
    return tag_json(svc.store.create_tag(project_id, name, description, type))


@router.get("/{tag_id}")
def get_tag(svc: Svc, project_id: str, tag_id: str):
    return tag_json(svc.store.tag(project_id, tag_id))


@router.patch("/{tag_id}")
async def update_tag(svc: Svc, project_id: str, tag_id: str, request: Request):
    body = await json_object(request)
    return tag_json(svc.store.update_tag(project_id, tag_id, text_field(body, "name"),
                                         text_field(body, "description"), text_field(body, "type")))


@router.delete("/{tag_id}", status_code=204)
def delete_tag(svc: Svc, project_id: str, tag_id: str):
    svc.store.delete_tag(project_id, tag_id)
    return Response(status_code=204)
