"""Request bodies, read under size limits: raw bytes, multipart images, the lenient image-URL body (JSON bodies
become request models in api/schemas/common.py).

A body is refused with 413 as soon as it is known to be over its limit (announced or sent), so an oversized
upload costs the service no more memory than the limit.
"""
from __future__ import annotations

import ast
import json
from typing import Any

from starlette.requests import Request

from .. import errors

SMALL_BODY = 1024 * 1024  # JSON bodies other than image batches: tags, metadata, URLs, settings


async def read_body(request: Request, limit: int, code: str = "BadRequest") -> bytes:
    """The request body, refused with 413 as soon as it is known to be over `limit` bytes (announced or sent)."""
    length = request.headers.get("content-length")
    if length and length.strip().isdigit() and int(length) > limit:
        raise errors.too_large(f"The request body is {int(length):,} bytes; at most {limit:,} bytes are taken here.",
                               code)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.too_large(f"The request body is over {limit:,} bytes; at most {limit:,} bytes are taken "
                                   "here.", code)
        chunks.append(chunk)
    return b"".join(chunks)


async def image_url_body(request: Request) -> str:
    """`{"url": ...}` read leniently: the AI-900 PowerShell client sends `{'url' : '...'}`, the portal `Url`."""
    raw = (await read_body(request, SMALL_BODY)).decode("utf-8", "replace").strip()
    parsed: Any = None
    if raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            try:
                parsed = ast.literal_eval(raw)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                parsed = None
    if isinstance(parsed, dict):
        for key, value in parsed.items():
            if isinstance(key, str) and key.lower() == "url" and isinstance(value, str) and value.strip():
                return value.strip()
    raise errors.bad_request('The body must be JSON with the image URL: {"url": "https://..."}.',
                             "BadRequestImageUrl")


def _multipart_parts(body: bytes, content_type: str) -> list[tuple[dict[str, str], bytes]]:
    boundary = None
    for piece in content_type.split(";")[1:]:
        key, _, value = piece.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip().strip('"')
    if not boundary:
        raise errors.bad_request("The multipart body has no boundary.", "BadRequestImageStream")
    parts = []
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, payload = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        headers = {}
        for line in head.decode("latin-1").strip().split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts.append((headers, payload[:-2] if payload.endswith(b"\r\n") else payload))
    return parts


async def image_bodies(request: Request, limit: int, count: int = 64) -> list[bytes]:
    """Image bytes from a multipart upload (the SDK's `imageData` parts) or a raw octet-stream body; the body
    may hold up to `count` images of `limit` bytes."""
    body = await read_body(request, limit * count + SMALL_BODY, "BadRequestImageSizeBytes")
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/"):
        images = [payload for headers, payload in _multipart_parts(body, content_type)
                  if 'name="imagedata"' in headers.get("content-disposition", "").lower()
                  or "filename=" in headers.get("content-disposition", "").lower()]
        if not images:
            raise errors.bad_request("The multipart body has no 'imageData' part.", "BadRequestImageStream")
        return images
    if not body:
        raise errors.bad_request("The request has no image: send the bytes as application/octet-stream or as "
                                 "a multipart 'imageData' part.", "BadRequestImageStream")
    return [body]
