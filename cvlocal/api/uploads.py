"""Adding a batch of images to a project: check each one, store its bytes, then commit the rows."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi.responses import JSONResponse

from .. import errors
from ..net.bodies import SMALL_BODY
from ..net.images import ImageRejected, check_image
from ..settings import Settings
from ..store.records import NewImage
from .deps import Services
from .schemas.images import Image, ImageCreateResult, ImageCreateSummary


@dataclass
class Upload:
    source: str | None     # the file name or URL the client gave (sourceUrl in the answer)
    data: bytes | None     # None when it could not be had (status says why)
    tag_ids: list[str]
    status: str = "OK"
    message: str = ""


def batch_body_limit(settings: Settings) -> int:
    """A full batch of base64 images (64 x 6 MB, a third more as base64) and room for the JSON around it."""
    return settings.max_images_per_batch * settings.max_training_image_bytes * 4 // 3 + SMALL_BODY


def check_batch(services: Services, project_id: str, count: int, tag_ids: list[str]) -> None:
    settings = services.settings
    services.store.project(project_id)
    if count == 0:
        raise errors.bad_request("The batch has no images.", "BadRequestImageBatch")
    if count > settings.max_images_per_batch:
        raise errors.bad_request(f"The batch has {count} images; at most {settings.max_images_per_batch} "
                                 "images can be uploaded in one batch.", "BadRequestImageBatch")
    if len(set(tag_ids)) > settings.max_tags_per_batch:
        raise errors.bad_request(f"At most {settings.max_tags_per_batch} tags per batch.", "BadRequestImageBatch")
    services.store.require_tags(project_id, list(set(tag_ids)))


def add_batch(services: Services, project_id: str, uploads: list[Upload], metadata: Mapping[str, str] | None,
              base: str) -> JSONResponse:
    """ImageCreateSummary: 200 when every image is OK or OKDuplicate, else 207."""
    store, limit = services.store, services.settings.max_training_image_bytes
    accepted: list[tuple[int, NewImage]] = []
    for index, upload in enumerate(uploads):
        if upload.data is None:
            continue
        try:
            checked = check_image(upload.data, limit)
        except ImageRejected as exc:
            upload.status, upload.message = exc.status, exc.message
            continue
        digest = store.blobs.put(upload.data)  # durable before the row that names it
        accepted.append((index, NewImage(digest, checked.width, checked.height, len(upload.data),
                                         tuple(upload.tag_ids))))
    stored, most = {}, services.settings.tier.images_per_project
    for (index, _), (image, duplicate) in zip(accepted, store.add_images(project_id, [i for _, i in accepted],
                                                                           metadata, max_images=most)):
        if image is None:  # Azure answers a full project per image, in the batch's 207
            uploads[index].status = "ErrorLimitExceed"
            uploads[index].message = (f"The project holds {most:,} training images, the most its pricing tier "
                                      "allows; delete images first.")
            continue
        uploads[index].status = "OKDuplicate" if duplicate else "OK"
        stored[index] = Image.of(image, services.links, base)
    ok = all(u.status in ("OK", "OKDuplicate") for u in uploads)
    summary = ImageCreateSummary(is_batch_successful=ok, images=[
        ImageCreateResult(source_url=u.source, status=u.status, image=stored.get(i), message=u.message)
        for i, u in enumerate(uploads)])
    return JSONResponse(summary.model_dump(mode="json", by_alias=True), status_code=200 if ok else 207)
