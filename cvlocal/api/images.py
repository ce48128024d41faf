"""Images of a project: upload (data, files, urls), listing, counts, metadata, tagging, deletion."""
from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from .. import errors
from ..models import image_json
from ..store.catalog import check_metadata
from ..uploads import Upload, add_batch, check_batch
from ..urlfetch import UrlRejected
from .deps import Svc, base_url, batch_body_limit, flag, id_list, image_bodies, json_body, json_object

router = APIRouter(prefix="/training/projects/{project_id}/images", tags=["images"])
MAX_TAKE = 256


def _entries(body, key: str) -> tuple[list[dict], list[str], dict | None]:
    if not isinstance(body, dict) or not isinstance(body.get("images"), list):
        raise errors.bad_request(f'The body must be JSON: {{"images": [{{"{key}": ...}}], "tagIds": [...]}}.',
                                 "BadRequestImageBatch")
    entries = [e for e in body["images"] if isinstance(e, dict)]
    if len(entries) != len(body["images"]):
        raise errors.bad_request("Every entry of 'images' must be an object.", "BadRequestImageBatch")
    batch_tags = body.get("tagIds") or []
    if not isinstance(batch_tags, list) or not all(isinstance(t, str) for t in batch_tags):
        raise errors.bad_request("tagIds must be a list of tag ids.", "BadRequestImageBatch")
    return entries, batch_tags, body.get("metadata")


def _tags_of(entry: dict, batch_tags: list[str]) -> list[str]:
    own = entry.get("tagIds") or []
    if not isinstance(own, list) or not all(isinstance(t, str) for t in own):
        raise errors.bad_request("tagIds must be a list of tag ids.", "BadRequestImageBatch")
    return list(dict.fromkeys([*batch_tags, *own]))


def _answer(status_and_summary: tuple[int, dict]) -> JSONResponse:
    status, summary = status_and_summary
    return JSONResponse(summary, status_code=status)


@router.post("", summary="create_images_from_data")
async def create_images_from_data(svc: Svc, project_id: str, request: Request,
                                  tag_ids: str | None = Query(None, alias="tagIds")):
    tags = id_list(tag_ids)
    images = await image_bodies(request, svc.settings.max_training_image_bytes)
    check_batch(svc, project_id, len(images), tags)
    uploads = [Upload(None, data, tags) for data in images]
    return _answer(await run_in_threadpool(add_batch, svc, project_id, uploads, None, base_url(request)))


@router.post("/files", summary="create_images_from_files")
async def create_images_from_files(svc: Svc, project_id: str, request: Request):
    entries, batch_tags, metadata = _entries(await json_body(request, batch_body_limit(svc.settings)), "contents")
    uploads = []
    for entry in entries:
        upload = Upload(entry.get("name"), None, _tags_of(entry, batch_tags))
        try:
            upload.data = base64.b64decode(entry.get("contents") or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            upload.status, upload.message = "ErrorImageFormat", "contents is not standard base64."
        uploads.append(upload)
    check_batch(svc, project_id, len(uploads), [t for u in uploads for t in u.tag_ids])
    return _answer(await run_in_threadpool(add_batch, svc, project_id, uploads, metadata, base_url(request)))


@router.post("/urls", summary="create_images_from_urls")
async def create_images_from_urls(svc: Svc, project_id: str, request: Request):
    entries, batch_tags, metadata = _entries(await json_body(request), "url")
    check_metadata(metadata)  # before any URL is fetched
    uploads = [Upload(e.get("url"), None, _tags_of(e, batch_tags)) for e in entries]
    check_batch(svc, project_id, len(uploads), [t for u in uploads for t in u.tag_ids])

    def fetch_all():
        for upload in uploads:
            try:
                upload.data = svc.fetcher.fetch(str(upload.source or ""), svc.settings.max_training_image_bytes)
            except UrlRejected as exc:
                upload.status, upload.message = "ErrorSource", str(exc)
        return add_batch(svc, project_id, uploads, metadata, base_url(request))

    return _answer(await run_in_threadpool(fetch_all))


def _listing(svc, request, project_id, tagged, tag_ids, order_by, take, skip, image_ids=None):
    if not 0 <= take <= MAX_TAKE or skip < 0:
        raise errors.bad_request(f"take must be 0 to {MAX_TAKE} and skip at least 0.")
    newest = (order_by or "Newest").lower() != "oldest"
    rows = svc.store.images(project_id, tagged, id_list(tag_ids), newest, take, skip, image_ids)
    tags = svc.store.image_tags([r["id"] for r in rows])
    base = base_url(request)
    return [image_json(r, tags[r["id"]], svc.links, base) for r in rows]


@router.get("/tagged")
def get_tagged_images(svc: Svc, project_id: str, request: Request,
                      iteration_id: str | None = Query(None, alias="iterationId"),
                      tag_ids: str | None = Query(None, alias="tagIds"),
                      order_by: str | None = Query(None, alias="orderBy"), take: int = 50, skip: int = 0):
    return _listing(svc, request, project_id, True, tag_ids, order_by, take, skip)


@router.get("/untagged")
def get_untagged_images(svc: Svc, project_id: str, request: Request,
                        iteration_id: str | None = Query(None, alias="iterationId"),
                        order_by: str | None = Query(None, alias="orderBy"), take: int = 50, skip: int = 0):
    return _listing(svc, request, project_id, False, None, order_by, take, skip)


def _tagging_status(value: str | None) -> bool | None:
    return {"tagged": True, "untagged": False}.get((value or "").lower())


@router.get("")
def get_images(svc: Svc, project_id: str, request: Request,
               iteration_id: str | None = Query(None, alias="iterationId"),
               tag_ids: str | None = Query(None, alias="tagIds"),
               tagging_status: str | None = Query(None, alias="taggingStatus"),
               order_by: str | None = Query(None, alias="orderBy"), take: int = 50, skip: int = 0):
    return _listing(svc, request, project_id, _tagging_status(tagging_status), tag_ids, order_by, take, skip)


@router.get("/id")
def get_images_by_ids(svc: Svc, project_id: str, request: Request,
                      image_ids: str | None = Query(None, alias="imageIds"),
                      iteration_id: str | None = Query(None, alias="iterationId")):
    ids = id_list(image_ids)
    if len(ids) > MAX_TAKE:
        raise errors.bad_request(f"At most {MAX_TAKE} image ids.", "BadRequestInvalidIds")
    return _listing(svc, request, project_id, None, None, None, MAX_TAKE, 0, ids) if ids else []


@router.get("/tagged/count")
def get_tagged_image_count(svc: Svc, project_id: str, tag_ids: str | None = Query(None, alias="tagIds"),
                           iteration_id: str | None = Query(None, alias="iterationId")):
    return svc.store.image_count(project_id, True, id_list(tag_ids))


@router.get("/untagged/count")
def get_untagged_image_count(svc: Svc, project_id: str,
                             iteration_id: str | None = Query(None, alias="iterationId")):
    return svc.store.image_count(project_id, False)


@router.get("/count")
def get_image_count(svc: Svc, project_id: str, tag_ids: str | None = Query(None, alias="tagIds"),
                    tagging_status: str | None = Query(None, alias="taggingStatus"),
                    iteration_id: str | None = Query(None, alias="iterationId")):
    return svc.store.image_count(project_id, _tagging_status(tagging_status), id_list(tag_ids))


@router.delete("", status_code=204)
def delete_images(svc: Svc, project_id: str, image_ids: str | None = Query(None, alias="imageIds"),
                  all_images: str | None = Query(None, alias="allImages"),
                  all_iterations: str | None = Query(None, alias="allIterations")):
    ids = id_list(image_ids)
    if not ids and not flag(all_images):
        raise errors.bad_request("Name the images to delete (imageIds) or pass allImages=true.",
                                 "BadRequestInvalidIds")
    svc.store.delete_images(project_id, None if flag(all_images) else ids)
    return Response(status_code=204)


@router.post("/metadata")
async def update_image_metadata(svc: Svc, project_id: str, request: Request,
                                image_ids: str | None = Query(None, alias="imageIds")):
    ids, metadata = id_list(image_ids), await json_body(request)
    if not ids or len(ids) > 64:
        raise errors.bad_request("Name 1 to 64 images (imageIds).", "BadRequestInvalidIds")
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise errors.bad_request("The body must be an object of string keys and string values.",
                                 "BadRequestImageMetadataKey")
    results = svc.store.update_image_metadata(project_id, ids, metadata)
    ok = all(status == "OK" for _, status, _ in results)
    summary = {"isBatchSuccessful": ok,
               "images": [{"imageId": i, "status": s, "metadata": m} for i, s, m in results]}
    return JSONResponse(summary, status_code=200 if ok else 207)


@router.post("/tags")
async def create_image_tags(svc: Svc, project_id: str, request: Request):
    body = await json_object(request)
    entries = body.get("tags")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise errors.bad_request('The body must be {"tags": [{"imageId": ..., "tagId": ...}]}.')
    created, duplicated = svc.store.add_image_tags(
        project_id, [(str(e.get("imageId")), str(e.get("tagId"))) for e in entries])
    as_json = lambda pairs: [{"imageId": i, "tagId": t} for i, t in pairs]  # noqa: E731
    return {"created": as_json(created), "duplicated": as_json(duplicated), "exceeded": []}


@router.delete("/tags", status_code=204)
def delete_image_tags(svc: Svc, project_id: str, image_ids: str | None = Query(None, alias="imageIds"),
                      tag_ids: str | None = Query(None, alias="tagIds")):
    svc.store.remove_image_tags(project_id, id_list(image_ids), id_list(tag_ids))
    return Response(status_code=204)
