"""Exports of an iteration (what can be exported: training/export.py; how it is built: exports/)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from .deps import Svc, base_url
from .schemas.iterations import Export, ExportQuery

router = APIRouter(prefix="/training/projects/{project_id}/iterations/{iteration_id}/export", tags=["exports"])


@router.post("")
def export_iteration(svc: Svc, project_id: str, iteration_id: str, request: Request,
                     q: Annotated[ExportQuery, Query()]) -> Export:
    iteration = svc.store.completed_iteration(project_id, iteration_id)
    return Export.of(svc.exporter.export(iteration, q.platform, q.flavor), base_url(request))


@router.get("")
def get_exports(svc: Svc, project_id: str, iteration_id: str, request: Request) -> list[Export]:
    svc.store.iteration(project_id, iteration_id)
    base = base_url(request)
    return [Export.of(e, base) for e in svc.exporter.exports(iteration_id)]
