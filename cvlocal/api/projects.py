"""Domains and projects."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from .. import errors
from ..domains import DOMAINS, get_domain
from ..models import project_json
from .deps import Svc, id_list, json_object, text_field

router = APIRouter(prefix="/training", tags=["projects"])


@router.get("/domains")
def get_domains():
    return [d.to_json() for d in DOMAINS]


@router.get("/domains/{domain_id}")
def get_domain_by_id(domain_id: str):
    return get_domain(domain_id).to_json()


@router.get("/projects")
def get_projects(svc: Svc):
    return [project_json(r) for r in svc.store.projects()]


@router.post("/projects")
def create_project(svc: Svc, name: str = Query(""), description: str = Query(""),
                   domain_id: str | None = Query(None, alias="domainId"),
                   classification_type: str | None = Query(None, alias="classificationType"),
                   target_export_platforms: str | None = Query(None, alias="targetExportPlatforms")):
    row = svc.store.create_project(name, description, domain_id, classification_type,
                                   id_list(target_export_platforms))
    return project_json(row)


@router.get("/projects/{project_id}")
def get_project(svc: Svc, project_id: str):
    return project_json(svc.store.project(project_id))


@router.patch("/projects/{project_id}")
async def update_project(svc: Svc, project_id: str, request: Request):
    body = await json_object(request)
    settings = body.get("settings") or {}
    if not isinstance(settings, dict):
        raise errors.bad_request("'settings' must be an object.")
    row = svc.store.update_project(project_id, text_field(body, "name"), text_field(body, "description"),
                                   text_field(settings, "domainId"), text_field(settings, "classificationType"))
    return project_json(row)


@router.delete("/projects/{project_id}", status_code=204)
def delete_project(svc: Svc, project_id: str):
    svc.store.delete_project(project_id)
    svc.predictor.forget_project(project_id)
    return Response(status_code=204)
