"""get_artifact: a project's stored files by relative path, with the training key instead of a signed link.

Azure serves under this route what its other responses name as URIs (on a resource behind a virtual network
those fields hold a relative path for GetArtifact instead of a URL): an image's original, resized and
thumbnail bytes (Image, ImagePerformance), a stored prediction's (StoredImagePrediction,
StoredSuggestedTagAndRegion), and an exported model (Export.downloadUri). Here the relative path of each is
its download link's path after `/blobs/`, without the signature:

    images/{imageId}/original | resized | thumbnail
    predictions/{predictionId}/original | resized | thumbnail
    exports/{token}/{filename}

Only those shapes are served, and only of this project: anything else (another project's file, `..`, an
absolute path, an encoded or a backslash separator) is BadRequestInvalidArtifactUri, Azure's code for it.
"""
from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response

from .. import errors
from .deps import Svc
from .downloads import image_response

router = APIRouter(prefix="/training/projects/{project_id}", tags=["artifacts"])
_ID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
IMAGE = re.compile(rf"(images|predictions)/({_ID})/(original|resized|thumbnail)")
EXPORT = re.compile(r"exports/([A-Za-z0-9_-]{16,128})/[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*")


def artifact(path: str) -> tuple[str, ...] | None:
    """("images" | "predictions", id, variant) or ("exports", token) for a path of this route's shapes; None
    for anything else. Whole-string matches of an allow-list: no `..`, separator or encoding gets through."""
    image = IMAGE.fullmatch(path)
    if image:
        return image.groups()
    export = EXPORT.fullmatch(path)
    return ("exports", export.group(1)) if export else None


def unknown(path: str) -> errors.CustomVisionError:
    shown = path if len(path) <= 200 else path[:200] + "..."
    return errors.bad_request(f"'{shown}' is not an artifact of this project: get_artifact takes images/ID/"
                              "original|resized|thumbnail, predictions/ID/..., or exports/TOKEN/FILE.",
                              "BadRequestInvalidArtifactUri")


@router.get("/artifacts")
async def get_artifact(svc: Svc, project_id: str, request: Request, path: str = "") -> Response:
    svc.store.project(project_id)
    named = artifact(path)
    if named is None:
        raise unknown(path)
    if named[0] == "exports":
        record = svc.store.export_by_token(named[1])
        if record is None or record.iteration_id not in {i.id for i in svc.store.iterations(project_id)}:
            raise unknown(path)
        return Response(svc.store.blobs.get(record.blob_digest), media_type="application/zip")
    kind, item_id, variant = named
    found = svc.store.image_by_id(item_id) if kind == "images" else svc.store.prediction_by_id(item_id)
    if found is None or found.project_id != project_id:
        raise unknown(path)
    return await image_response(svc, request, found.sha256, variant)
