"""Object detection regions on the wire: the boxes clients send (on uploads and create_image_regions), their
checks with Azure's limits, and the regions, region proposals and bounding boxes clients get back.

A box is normalised to the image as displayed (EXIF orientation applied), as Azure takes it: left, top, width and
height in [0, 1], inside the image, with a positive size. Azure documents no smallest box (only "normalized
coordinates"); its limits are 300 regions per image ("Limits and quotas") and 64 entries per
create_image_regions call (the SDK's docstring), and so are this service's.
"""
from __future__ import annotations

from pydantic import Field

from ... import errors
from ...store.records import NewRegion, RegionEntry, RegionRecord
from ...training.rules import box_problem
from .common import Wire

MAX_REGIONS_PER_CALL = 64     # create_image_regions: "There is a limit of 64 entries in the batch"; delete: 64 ids


def _clipped(region: "Region") -> NewRegion:
    return NewRegion(region.tag_id, float(region.left), float(region.top),
                     min(float(region.width), 1.0 - region.left), min(float(region.height), 1.0 - region.top))


# ---- requests
class Region(Wire):
    """A region on an upload entry (ImageFileCreateEntry.regions, ImageUrlCreateEntry.regions, ...)."""
    tag_id: str
    left: float
    top: float
    width: float
    height: float

    def problem(self) -> str | None:
        found = box_problem(self.left, self.top, self.width, self.height)
        return f"region of tag {self.tag_id}: {found}" if found else None

    def checked(self) -> NewRegion:
        """The box as stored (a rounding error past the edge trimmed); call only when `problem()` is None."""
        return _clipped(self)


class ImageRegionCreateEntry(Region):
    """create_image_regions' entry; also what `duplicated` and `exceeded` answer with."""
    image_id: str

    def entry(self) -> RegionEntry:
        """The store's entry, or 400 BadRequestImageRegions: create_image_regions writes all of a batch or none
        of it when a box is wrong."""
        found = self.problem()
        if found:
            raise errors.bad_request(f"Image {self.image_id}, {found}.", "BadRequestImageRegions")
        return RegionEntry(self.image_id, self.checked())

    @classmethod
    def of(cls, entry: RegionEntry) -> "ImageRegionCreateEntry":
        r = entry.region
        return cls(image_id=entry.image_id, tag_id=r.tag_id, left=r.left, top=r.top, width=r.width, height=r.height)


class ImageRegionCreateBatch(Wire):
    regions: list[ImageRegionCreateEntry] = Field(default_factory=list)

    def entries(self) -> list[RegionEntry]:
        if not self.regions:
            raise errors.bad_request("The batch has no regions.", "BadRequestImageRegions")
        if len(self.regions) > MAX_REGIONS_PER_CALL:
            raise errors.bad_request(f"The batch has {len(self.regions)} regions; at most {MAX_REGIONS_PER_CALL} "
                                     "can be created in one call.", "BadRequestExceededBatchSize")
        return [r.entry() for r in self.regions]


# ---- responses
class BoundingBox(Wire):
    left: float
    top: float
    width: float
    height: float


class ImageRegion(Wire):
    region_id: str
    tag_name: str
    created: str
    tag_id: str
    left: float
    top: float
    width: float
    height: float

    @classmethod
    def of(cls, region: RegionRecord) -> "ImageRegion":
        return cls(region_id=region.id, tag_name=region.tag_name, created=region.created, tag_id=region.tag_id,
                   left=region.left, top=region.top, width=region.width, height=region.height)


class ImageRegionCreateResult(ImageRegion):
    image_id: str

    @classmethod
    def created_for(cls, entry: RegionEntry, region: RegionRecord) -> "ImageRegionCreateResult":
        return cls(image_id=entry.image_id, **ImageRegion.of(region).model_dump())


class ImageRegionCreateSummary(Wire):
    created: list[ImageRegionCreateResult]
    duplicated: list[ImageRegionCreateEntry]
    exceeded: list[ImageRegionCreateEntry]


class RegionProposal(Wire):
    confidence: float
    bounding_box: BoundingBox


class ImageRegionProposal(Wire):
    project_id: str
    image_id: str
    proposals: list[RegionProposal]
