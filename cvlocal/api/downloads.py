"""Signed download links: an image's original, resized and thumbnail bytes, a stored prediction's image,
exported models, and an exported project for a service that imports it (its import token is the signature).

An image link always names the same bytes (an image id, or a prediction id, is bound to one blob for good), so
browsers may keep what it returns: `Cache-Control: private, immutable` for a year, and an ETag for a client that
asks again anyway. Private: proxies between the service and a browser keep nothing.
"""
from __future__ import annotations

import io

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from fastapi.concurrency import run_in_threadpool
from PIL import Image

from .. import errors
from ..net.images import OPEN_FORMATS
from ..store.exported import document
from ..transfer.tokens import TokenInvalid
from .deps import Services, Svc
from .scaled import ScaledImages

router = APIRouter(prefix="/blobs", tags=["downloads"])
VARIANTS = {"original": None, "resized": 1024, "thumbnail": 300}
CACHE_CONTROL = "private, max-age=31536000, immutable"
SCALED = ScaledImages()  # keyed by content digest, so one for the process is right whatever app serves it


def _media_type(data: bytes) -> str:
    with Image.open(io.BytesIO(data), formats=OPEN_FORMATS) as img:
        return "image/jpeg" if img.format == "MPO" else Image.MIME.get(img.format, "application/octet-stream")


async def image_response(svc: Services, request: Request, digest: str, variant: str) -> Response:
    etag = f'"{digest[:32]}-{variant}"'
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    longest = VARIANTS[variant]
    if longest is None:
        data = svc.store.blobs.get(digest)
        return Response(data, media_type=_media_type(data), headers=headers)
    data = await run_in_threadpool(SCALED.get, digest, longest, lambda: svc.store.blobs.get(digest))
    return Response(data, media_type="image/jpeg", headers=headers)


async def _signed(svc: Services, request: Request, record, variant: str, signature_ok: bool) -> Response:
    """A signed link's image: `record` is the image or stored prediction it names (None when there is none);
    an unknown record, variant or signature is the same 404, so a link says nothing about what exists."""
    if record is None or variant not in VARIANTS or not signature_ok:
        raise errors.not_found("This link is not valid.")
    return await image_response(svc, request, record.sha256, variant)


@router.get("/images/{image_id}/{variant}")
async def download_image(svc: Svc, request: Request, image_id: str, variant: str, sig: str = ""):
    return await _signed(svc, request, svc.store.image_by_id(image_id), variant,
                         svc.links.image_signature_ok(image_id, sig))


@router.get("/predictions/{prediction_id}/{variant}")
async def download_prediction_image(svc: Svc, request: Request, prediction_id: str, variant: str, sig: str = ""):
    return await _signed(svc, request, svc.store.prediction_by_id(prediction_id), variant,
                         svc.links.prediction_signature_ok(prediction_id, sig))


@router.get("/exports/{token}/{filename}")
def download_export(svc: Svc, token: str, filename: str):
    export = svc.store.export_by_token(token)
    if export is None:
        raise errors.not_found("This export link is not valid or has expired; export the iteration again.")
    return Response(svc.store.blobs.get(export.blob_digest), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _export_id(svc: Services, token: str) -> str:
    """The export a token this service signed names, while it lasts (another service importing it asks here)."""
    try:
        return svc.tokens.verify(token).export_id
    except TokenInvalid as exc:
        raise errors.not_found(f"This import token is not valid here: {exc}.") from None


@router.get("/project-exports/{token}")
def download_exported_project(svc: Svc, token: str):
    export = svc.store.project_export(_export_id(svc, token))
    if export is None:
        raise errors.not_found("This import token is not valid here: its project was deleted since it was exported.")
    return JSONResponse(document(export.project), headers={"Cache-Control": "private, no-store"})


@router.get("/project-exports/{token}/images/{sha256}")
def download_exported_image(svc: Svc, token: str, sha256: str):
    if not svc.store.project_export_has_image(_export_id(svc, token), sha256):
        raise errors.not_found("This export has no such image.")
    return Response(svc.store.blobs.get(sha256), media_type="application/octet-stream",
                    headers={"Cache-Control": "private, no-store"})
