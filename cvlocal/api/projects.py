"""Projects."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from .. import errors
from ..store.records import ProjectChanges
from ..training.domains import DEFAULT_DOMAIN_ID, get_domain
from .deps import Svc
from .schemas.common import json_model
from .schemas.projects import Project, ProjectCreate, ProjectCreateOptions, ProjectUpdate

router = APIRouter(prefix="/training/projects", tags=["projects"])


@router.get("")
def get_projects(svc: Svc) -> list[Project]:
    return [Project.of(p) for p in svc.store.projects()]


@router.post("")
def create_project(svc: Svc, q: Annotated[ProjectCreate, Query()],
                   options: ProjectCreateOptions | None = json_model(ProjectCreateOptions)) -> Project:
    return Project.of(svc.store.create_project(q.name, q.description, q.domain_id or DEFAULT_DOMAIN_ID,
                                               q.classification_type or "Multiclass",
                                               tuple(q.target_export_platforms or ()),
                                               max_projects=svc.settings.tier.projects))


@router.get("/{project_id}")
def get_project(svc: Svc, project_id: str) -> Project:
    return Project.of(svc.store.project(project_id))


@router.patch("/{project_id}")
def update_project(svc: Svc, project_id: str, body: ProjectUpdate | None = json_model(ProjectUpdate)) -> Project:
    body = body or ProjectUpdate()  # an empty body changes nothing
    new_domain = body.settings.domain_id
    if new_domain:
        current = get_domain(svc.store.project(project_id).domain_id)
        if get_domain(new_domain).type != current.type:  # its images, tags and iterations are of that type
            raise errors.bad_request(f"A {current.type} project cannot move to a {get_domain(new_domain).type} "
                                     "domain; create a new project instead.",
                                     "BadRequestProjectUnsupportedDomainTypeChange")
    platforms = body.settings.target_export_platforms
    changes = ProjectChanges(name=body.name, description=body.description, domain_id=body.settings.domain_id,
                             classification_type=body.settings.classification_type,
                             target_export_platforms=None if platforms is None else tuple(platforms))
    return Project.of(svc.store.update_project(project_id, changes))


@router.delete("/{project_id}", status_code=204)
def delete_project(svc: Svc, project_id: str):
    svc.store.delete_project(project_id)
    svc.predictor.forget_project(project_id)
    return Response(status_code=204)
