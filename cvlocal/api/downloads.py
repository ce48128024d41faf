"""Signed download links: an image's original, resized and thumbnail bytes; exported models."""
from __future__ import annotations

import io

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from PIL import Image, ImageOps

from .. import errors
from ..net.images import OPEN_FORMATS
from .deps import Svc

router = APIRouter(prefix="/blobs", tags=["downloads"])
VARIANTS = {"original": None, "resized": 1024, "thumbnail": 300}


def _scaled(data: bytes, longest: int) -> bytes:
    with Image.open(io.BytesIO(data), formats=OPEN_FORMATS) as img:
        img.draft("RGB", (longest, longest))
        img = ImageOps.exif_transpose(img).convert("RGB")
        img.thumbnail((longest, longest))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=90)
        return out.getvalue()


@router.get("/images/{image_id}/{variant}")
async def download_image(svc: Svc, image_id: str, variant: str, sig: str = ""):
    image = svc.store.image_by_id(image_id)
    if image is None or variant not in VARIANTS or not svc.links.image_signature_ok(image_id, sig):
        raise errors.not_found("This link is not valid.")
    data = svc.store.blobs.get(image.sha256)
    if VARIANTS[variant] is None:
        with Image.open(io.BytesIO(data), formats=OPEN_FORMATS) as img:
            media = "image/jpeg" if img.format == "MPO" else Image.MIME.get(img.format, "application/octet-stream")
        return Response(data, media_type=media)
    return Response(await run_in_threadpool(_scaled, data, VARIANTS[variant]), media_type="image/jpeg")


@router.get("/exports/{token}/{filename}")
def download_export(svc: Svc, token: str, filename: str):
    export = svc.store.export_by_token(token)
    if export is None:
        raise errors.not_found("This export link is not valid or has expired; export the iteration again.")
    return Response(svc.store.blobs.get(export.blob_digest), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
