"""Adding a batch of images to a project: check each one, store its bytes, then commit the rows.

A classification image carries tags; an object detection image carries regions (its tags are its regions'
tags), and a batch of the one kind is refused on a project of the other. A region Azure would not take fails
its image only (`ErrorInvalidRegion`, as Azure answers it; `ErrorRegionLimitExceed` past 300 regions), before
its bytes are stored.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fastapi.responses import JSONResponse

from .. import errors
from ..net.bodies import SMALL_BODY
from ..net.images import ImageRejected, check_image
from ..settings import Settings
from ..store.records import NewImage, NewRegion
from ..training.domains import is_detection
from ..training.rules import MAX_REGIONS_PER_IMAGE
from .deps import Services
from .schemas.images import Image, ImageCreateResult, ImageCreateSummary
from .schemas.regions import Region


@dataclass
class Upload:
    source: str | None     # the file name or URL the client gave (sourceUrl in the answer)
    data: bytes | None     # None when it could not be had (status says why)
    tag_ids: list[str]
    regions: list[Region] = field(default_factory=list)
    status: str = "OK"
    message: str = ""

    def checked_regions(self) -> tuple[NewRegion, ...] | None:
        """The regions as stored, or None (status and message say why) when Azure would refuse them."""
        if len(self.regions) > MAX_REGIONS_PER_IMAGE:
            self.fail("ErrorRegionLimitExceed", f"The image has {len(self.regions)} regions; an image has at most "
                                                f"{MAX_REGIONS_PER_IMAGE}.")
            return None
        for region in self.regions:
            problem = region.problem()
            if problem:
                self.fail("ErrorInvalidRegion", problem[:1].upper() + problem[1:] + ".")
                return None
        return tuple(r.checked() for r in self.regions)

    def fail(self, status: str, message: str) -> None:
        self.status, self.message = status, message


def batch_body_limit(settings: Settings) -> int:
    """A full batch of base64 images (64 x 6 MB, a third more as base64) and room for the JSON around it."""
    return settings.max_images_per_batch * settings.max_training_image_bytes * 4 // 3 + SMALL_BODY


def check_batch(services: Services, project_id: str, count: int, tag_ids: list[str],
                region_tag_ids: list[str] | None = None) -> None:
    """The batch as a whole: its size, its tags (image tags, or the tags of its regions: `region_tag_ids` is
    None when no entry has regions) and that they suit the project's type."""
    settings = services.settings
    project = services.store.project(project_id)
    detection = is_detection(project.domain_id)
    if region_tag_ids is not None and not detection:
        raise errors.bad_request("Regions are for object detection projects; this is a classification project "
                                 "(its domain's type): tag its images instead.", "BadRequestImageRegions")
    if tag_ids and detection:
        raise errors.bad_request("An object detection image is tagged by its regions: give each image regions "
                                 "(tagId, left, top, width, height) instead of tagIds.", "BadRequestImageTags")
    if count == 0:
        raise errors.bad_request("The batch has no images.", "BadRequestImageBatch")
    if count > settings.max_images_per_batch:
        raise errors.bad_request(f"The batch has {count} images; at most {settings.max_images_per_batch} "
                                 "images can be uploaded in one batch.", "BadRequestImageBatch")
    used = list({*tag_ids, *(region_tag_ids or ())})
    if len(used) > settings.max_tags_per_batch:
        raise errors.bad_request(f"At most {settings.max_tags_per_batch} tags per batch.", "BadRequestImageBatch")
    services.store.require_tags(project_id, used)


def region_tags(uploads: list[Upload]) -> list[str] | None:
    """The tags the batch's regions name; None when no entry has regions (`check_batch`)."""
    if not any(u.regions for u in uploads):
        return None
    return [r.tag_id for u in uploads for r in u.regions]


def add_batch(services: Services, project_id: str, uploads: list[Upload], metadata: Mapping[str, str] | None,
              base: str) -> JSONResponse:
    """ImageCreateSummary: 200 when every image is OK or OKDuplicate, else 207."""
    store, limit = services.store, services.settings.max_training_image_bytes
    accepted: list[tuple[int, NewImage]] = []
    for index, upload in enumerate(uploads):
        if upload.data is None:
            continue
        regions = upload.checked_regions()
        if regions is None:
            continue
        try:
            checked = check_image(upload.data, limit)
        except ImageRejected as exc:
            upload.fail(exc.status, exc.message)
            continue
        digest = store.blobs.put(upload.data)  # durable before the row that names it
        accepted.append((index, NewImage(digest, checked.width, checked.height, len(upload.data),
                                         tuple(upload.tag_ids), regions)))
    stored, most = {}, services.settings.tier.images_per_project
    added = store.add_images(project_id, [i for _, i in accepted], metadata, max_images=most,
                             max_regions=MAX_REGIONS_PER_IMAGE)
    for (index, new), (image, duplicate) in zip(accepted, added):
        if image is None:  # Azure answers a full project per image, in the batch's 207
            uploads[index].fail("ErrorLimitExceed", f"The project holds {most:,} training images, the most its "
                                                    "pricing tier allows; delete images first.")
            continue
        if not {r.key() for r in new.regions} <= {NewRegion(r.tag_id, r.left, r.top, r.width, r.height).key()
                                                   for r in image.regions}:
            # a duplicate of an image with regions already: its new regions would pass the limit, so none was added
            uploads[index].fail("ErrorRegionLimitExceed", f"The image has {len(image.regions)} regions already; "
                                                          f"an image has at most {MAX_REGIONS_PER_IMAGE}.")
            continue
        uploads[index].status = "OKDuplicate" if duplicate else "OK"
        stored[index] = Image.of(image, services.links, base)
    ok = all(u.status in ("OK", "OKDuplicate") for u in uploads)
    summary = ImageCreateSummary(is_batch_successful=ok, images=[
        ImageCreateResult(source_url=u.source, status=u.status, image=stored.get(i), message=u.message)
        for i, u in enumerate(uploads)])
    return JSONResponse(summary.model_dump(mode="json", by_alias=True), status_code=200 if ok else 207)
