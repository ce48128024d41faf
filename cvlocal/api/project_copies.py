"""Copying a project, as Custom Vision does it: export_project hands out a token, import_project (on this
service, another replica of its cluster, or another service that may fetch from this one) makes the project
anew from it. How the token works: cvlocal/transfer/."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from .. import errors
from ..transfer.importer import estimated_import_ms
from .deps import Svc, base_url
from .schemas.projects import Project, ProjectExport, ProjectImportQuery

router = APIRouter(prefix="/training/projects", tags=["projects"])


@router.get("/{project_id}/export")
def export_project(svc: Svc, project_id: str, request: Request) -> ProjectExport:
    export = svc.store.create_project_export(project_id, svc.settings.export_link_lifetime_s)
    exported = export.project
    return ProjectExport(iteration_count=0, image_count=len(exported.images), tag_count=len(exported.tags),
                         region_count=exported.region_count, estimated_import_time_in_ms=estimated_import_ms(exported),
                         token=svc.tokens.issue(base_url(request), export.id, export.expires))


@router.post("/import")
async def import_project(svc: Svc, request: Request, q: Annotated[ProjectImportQuery, Query()]) -> Project:
    if not q.token.strip():
        raise errors.invalid_import_token("no token was given (export_project gives one)")
    return Project.of(await run_in_threadpool(svc.importer.import_project, q.token, q.name, base_url(request)))
