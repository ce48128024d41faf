"""Adding a batch of images to a project: check each one, store its bytes, then commit the rows."""
from __future__ import annotations

from dataclasses import dataclass

from . import errors
from .images import ImageRejected, check_image
from .models import image_json
from .store.catalog import NewImage, check_metadata


@dataclass
class Upload:
    source: str | None     # the file name or URL the client gave (sourceUrl in the answer)
    data: bytes | None     # None when it could not be had (status says why)
    tag_ids: list[str]
    status: str = "OK"
    message: str = ""


def check_batch(services, project_id: str, count: int, tag_ids: list[str]) -> None:
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


def add_batch(services, project_id: str, uploads: list[Upload], metadata: dict | None, base: str) -> tuple[int, dict]:
    """(HTTP status, ImageCreateSummary): 200 when every image is OK or OKDuplicate, else 207."""
    store, limit = services.store, services.settings.max_training_image_bytes
    check_metadata(metadata)
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
        accepted.append((index, NewImage(digest, checked.width, checked.height, len(upload.data))))
    rows = store.add_images(project_id, [(img, uploads[i].tag_ids) for i, img in accepted], metadata)
    stored = {}
    for (index, _), (row, duplicate) in zip(accepted, rows):
        uploads[index].status = "OKDuplicate" if duplicate else "OK"
        stored[index] = row
    tags = store.image_tags([row["id"] for row in stored.values()])
    results = []
    for index, upload in enumerate(uploads):
        row = stored.get(index)
        result = {
            "sourceUrl": upload.source,
            "status": upload.status,
            "image": image_json(row, tags[row["id"]], services.links, base) if row is not None else None,
        }
        if upload.message:  # not in Azure's model (clients ignore it), but it says what to fix
            result["message"] = upload.message
        results.append(result)
    ok = all(u.status in ("OK", "OKDuplicate") for u in uploads)
    return (200 if ok else 207), {"isBatchSuccessful": ok, "images": results}
