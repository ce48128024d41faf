"""Images of a project: upload (data, files, urls), listing, counts, metadata, tagging, deletion."""
from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from .. import errors
from ..net.bodies import image_bodies
from ..net.fetch import UrlRejected
from ..training.domains import require_project_type
from .deps import Svc, base_url
from .schemas.common import IdList, json_model
from .schemas.images import (MAX_METADATA_PAIRS, Image, ImageCountQuery, ImageDeleteQuery, ImageFileBatch,
                             ImageIdCreateBatch, ImageIdsQuery, ImageListQuery, ImageMetadataBody, ImageMetadataQuery,
                             ImageMetadataUpdateEntry, ImageMetadataUpdateSummary, ImageTagBatch,
                             ImageTagCreateSummary, ImageTagDeleteQuery, ImageTagEntry, ImageUrlBatch)
from .uploads import Upload, add_batch, batch_body_limit, check_batch, region_tags

router = APIRouter(prefix="/training/projects/{project_id}/images", tags=["images"])
BATCH_SHAPE = 'The body must be JSON: {"images": [{"%s": ...}], "tagIds": [...]}.'


def _tags_of(own: list[str], batch_tags: list[str]) -> list[str]:
    return list(dict.fromkeys([*batch_tags, *own]))


# ---- uploads
@router.post("", summary="create_images_from_data")
async def create_images_from_data(svc: Svc, project_id: str, request: Request,
                                  tag_ids: Annotated[IdList, Query(alias="tagIds")] = []):
    images = await image_bodies(request, svc.settings.max_training_image_bytes)
    check_batch(svc, project_id, len(images), tag_ids)
    uploads = [Upload(None, data, tag_ids) for data in images]
    return await run_in_threadpool(add_batch, svc, project_id, uploads, None, base_url(request))


def _batch_limit(request: Request) -> int:
    return batch_body_limit(request.app.state.services.settings)


@router.post("/files", summary="create_images_from_files")
async def create_images_from_files(svc: Svc, project_id: str, request: Request,
                                   batch: ImageFileBatch = json_model(ImageFileBatch, code="BadRequestImageBatch",
                                                                      limit=_batch_limit,
                                                                      required=BATCH_SHAPE % "contents")):
    uploads = []
    for entry in batch.images:
        upload = Upload(entry.name, None, _tags_of(entry.tag_ids, batch.tag_ids), entry.regions or [])
        try:
            upload.data = base64.b64decode(entry.contents, validate=True)
        except (binascii.Error, ValueError):
            upload.fail("ErrorImageFormat", "contents is not standard base64.")
        uploads.append(upload)
    check_batch(svc, project_id, len(uploads), [t for u in uploads for t in u.tag_ids], region_tags(uploads))
    return await run_in_threadpool(add_batch, svc, project_id, uploads, batch.metadata, base_url(request))


@router.post("/urls", summary="create_images_from_urls")
async def create_images_from_urls(svc: Svc, project_id: str, request: Request,
                                  batch: ImageUrlBatch = json_model(ImageUrlBatch, code="BadRequestImageBatch",
                                                                    required=BATCH_SHAPE % "url")):
    uploads = [Upload(e.url, None, _tags_of(e.tag_ids, batch.tag_ids), e.regions or []) for e in batch.images]
    check_batch(svc, project_id, len(uploads), [t for u in uploads for t in u.tag_ids], region_tags(uploads))

    def fetch_all() -> JSONResponse:
        for upload in uploads:
            try:
                upload.data = svc.fetcher.fetch(upload.source or "", svc.settings.max_training_image_bytes)
            except UrlRejected as exc:
                upload.fail("ErrorSource", str(exc))
        return add_batch(svc, project_id, uploads, batch.metadata, base_url(request))

    return await run_in_threadpool(fetch_all)


@router.post("/predictions", summary="create_images_from_predictions")
async def create_images_from_predictions(svc: Svc, project_id: str, request: Request,
                                         batch: ImageIdCreateBatch = json_model(
                                             ImageIdCreateBatch, code="BadRequestImageBatch",
                                             required=BATCH_SHAPE % "id")):
    """The images of stored predictions become training images (the portal's "active learning" loop), with the
    tags or regions each entry gives (an object detection client sends the predicted boxes it accepts as
    regions); the predictions stay until deleted, as on Azure."""
    uploads = [Upload(e.id, None, _tags_of(e.tag_ids, batch.tag_ids), e.regions or []) for e in batch.images]
    check_batch(svc, project_id, len(uploads), [t for u in uploads for t in u.tag_ids], region_tags(uploads))
    found = {p.id: p for p in svc.store.predictions_by_ids(project_id, [e.id for e in batch.images])}

    def add_all() -> JSONResponse:
        for upload in uploads:
            if upload.source in found:
                upload.data = svc.store.blobs.get(found[upload.source].sha256)
            else:
                upload.fail("ErrorSource", f"No stored prediction {upload.source!r} in this project.")
        return add_batch(svc, project_id, uploads, batch.metadata, base_url(request))

    return await run_in_threadpool(add_all)


# ---- listing and counting
def _listed(svc, request: Request, project_id: str, query) -> list[Image]:
    base = base_url(request)
    return [Image.of(i, svc.links, base) for i in svc.store.images(project_id, query)]


@router.get("/tagged")
def get_tagged_images(svc: Svc, project_id: str, request: Request,
                      q: Annotated[ImageListQuery, Query()]) -> list[Image]:
    return _listed(svc, request, project_id, q.listing(tagged=True))


@router.get("/untagged")
def get_untagged_images(svc: Svc, project_id: str, request: Request,
                        q: Annotated[ImageListQuery, Query()]) -> list[Image]:
    return _listed(svc, request, project_id, q.listing(tagged=False, by_tags=False))


@router.get("")
def get_images(svc: Svc, project_id: str, request: Request, q: Annotated[ImageListQuery, Query()]) -> list[Image]:
    return _listed(svc, request, project_id, q.listing())


@router.get("/id")
def get_images_by_ids(svc: Svc, project_id: str, request: Request,
                      q: Annotated[ImageIdsQuery, Query()]) -> list[Image]:
    if not q.image_ids:
        return []
    query = ImageCountQuery(iteration_id=q.iteration_id).query(image_ids=tuple(q.image_ids), take=len(q.image_ids))
    return _listed(svc, request, project_id, query)


@router.get("/tagged/count")
def get_tagged_image_count(svc: Svc, project_id: str, q: Annotated[ImageCountQuery, Query()]) -> int:
    return svc.store.image_count(project_id, q.query(tagged=True))


@router.get("/untagged/count")
def get_untagged_image_count(svc: Svc, project_id: str, q: Annotated[ImageCountQuery, Query()]) -> int:
    return svc.store.image_count(project_id, q.query(tagged=False, by_tags=False))


@router.get("/count")
def get_image_count(svc: Svc, project_id: str, q: Annotated[ImageCountQuery, Query()]) -> int:
    return svc.store.image_count(project_id, q.query())


# ---- deleting, metadata, image tags
@router.delete("", status_code=204)
def delete_images(svc: Svc, project_id: str, q: Annotated[ImageDeleteQuery, Query()]):
    if not q.image_ids and not q.all_images:
        raise errors.bad_request("Name the images to delete (imageIds) or pass allImages=true.",
                                 "BadRequestInvalidIds")
    svc.store.delete_images(project_id, None if q.all_images else q.image_ids)
    return Response(status_code=204)


@router.post("/metadata")
def update_image_metadata(svc: Svc, project_id: str, q: Annotated[ImageMetadataQuery, Query()],
                          body: ImageMetadataBody = json_model(
                              ImageMetadataBody, code="BadRequestImageMetadataKey",
                              required="The body must be an object of string keys and string values.")):
    results = svc.store.update_image_metadata(project_id, q.image_ids, body.root, MAX_METADATA_PAIRS)
    ok = all(r.status == "OK" for r in results)
    summary = ImageMetadataUpdateSummary(is_batch_successful=ok, images=[ImageMetadataUpdateEntry.of(r)
                                                                         for r in results])
    return JSONResponse(summary.model_dump(mode="json", by_alias=True), status_code=200 if ok else 207)


@router.post("/tags")
def create_image_tags(svc: Svc, project_id: str,
                      body: ImageTagBatch = json_model(ImageTagBatch, required='The body must be {"tags": '
                                                       '[{"imageId": ..., "tagId": ...}]}.')) -> ImageTagCreateSummary:
    require_project_type(svc.store.project(project_id).domain_id, False, "create_image_tags (image-level tags)")
    created, duplicated = svc.store.add_image_tags(project_id, [(e.image_id, e.tag_id) for e in body.tags])
    entries = lambda pairs: [ImageTagEntry(image_id=i, tag_id=t) for i, t in pairs]  # noqa: E731
    return ImageTagCreateSummary(created=entries(created), duplicated=entries(duplicated))


@router.delete("/tags", status_code=204)
def delete_image_tags(svc: Svc, project_id: str, q: Annotated[ImageTagDeleteQuery, Query()]):
    require_project_type(svc.store.project(project_id).domain_id, False, "delete_image_tags (image-level tags)")
    svc.store.remove_image_tags(project_id, q.image_ids, q.tag_ids)
    return Response(status_code=204)
