"""What the store hands out and takes in: frozen records with every stored format already decoded.

Nothing outside the store sees a database row or a JSON column; a second backend returns the same records.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

TagRef = tuple[str, str]                       # (tag id, tag name), in a model's output order
SnapshotEntry = tuple[str, tuple[str, ...]]    # (image sha256, the tag ids it was trained with)
# An object detection region as a training set keeps it: (region id, tag id, left, top, width, height).
TrainedRegion = tuple[str, str, float, float, float, float]


@dataclass(frozen=True)
class ProjectRecord:
    id: str
    name: str
    description: str
    domain_id: str
    classification_type: str              # Multiclass | Multilabel
    target_export_platforms: tuple[str, ...]
    created: str                          # ISO-8601 with 'T' and 'Z', as clients parse it
    last_modified: str


@dataclass(frozen=True)
class TagRecord:
    id: str
    project_id: str
    name: str
    description: str | None
    type: str                             # Regular | Negative | GeneralProduct
    created: str
    image_count: int


@dataclass(frozen=True)
class ImageTagRecord:
    tag_id: str
    tag_name: str
    created: str


@dataclass(frozen=True)
class RegionRecord:
    """A box on an image of an object detection project, normalised to the image as displayed (EXIF
    orientation applied): left, top, width and height in [0, 1]."""
    id: str
    tag_id: str
    tag_name: str
    left: float
    top: float
    width: float
    height: float
    created: str


@dataclass(frozen=True)
class ImageRecord:
    id: str
    project_id: str
    sha256: str                           # the blob that holds its bytes
    width: int                            # as displayed (EXIF orientation applied)
    height: int
    size: int
    metadata: Mapping[str, str]
    created: str
    tags: tuple[ImageTagRecord, ...] = ()
    regions: tuple[RegionRecord, ...] = ()   # object detection projects' (their tags are their regions' tags)


@dataclass(frozen=True)
class IterationRecord:
    id: str
    project_id: str
    name: str
    status: str                           # Training | Completed | Failed
    created: str
    last_modified: str
    trained_at: str | None
    domain_id: str
    classification_type: str
    training_type: str
    reserved_budget_hours: int
    training_seconds: float | None
    publish_name: str | None
    publish_resource_id: str | None
    error_details: str | None
    tags: tuple[TagRef, ...]              # the model's output columns
    model_digest: str | None              # blob: Head.to_bytes()
    heldout_digest: str | None            # blob: HeldOut.to_bytes()
    timings: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PublishedIteration:
    """What a prediction URL resolves to: only what serving needs, read on every prediction."""
    id: str
    project_id: str
    name: str
    model_digest: str
    domain_id: str = ""                   # what kind of model it is (classifier or detector)


@dataclass(frozen=True)
class TrainingSet:
    """What a training would use: the tags and, per image, the tags it carries (images without one are left out);
    for object detection also each image's regions (by content hash). Two equal fingerprints mean nothing
    changed."""
    tags: tuple[TagRef, ...]
    snapshot: tuple[SnapshotEntry, ...]
    fingerprint: str
    regions: Mapping[str, tuple[TrainedRegion, ...]] = field(default_factory=dict)
    negative_tags_with_regions: tuple[str, ...] = ()  # names: object detection trains on no Negative tag

    def image_counts(self) -> dict[str, int]:
        counts = {tag_id: 0 for tag_id, _ in self.tags}
        for _, tag_ids in self.snapshot:
            for tag_id in tag_ids:
                counts[tag_id] += 1
        return counts


@dataclass(frozen=True)
class TrainingJob:
    """An iteration waiting to be trained, with the training set it was created with."""
    iteration: IterationRecord
    snapshot: tuple[SnapshotEntry, ...]
    regions: Mapping[str, tuple[TrainedRegion, ...]] = field(default_factory=dict)  # object detection's


@dataclass(frozen=True)
class ExportRecord:
    id: str
    iteration_id: str
    platform: str
    flavor: str | None
    status: str                           # Exporting, Done or Failed
    token: str                            # the unguessable part of the download link
    blob_digest: str | None               # the package, once Done
    created: str
    expires: float                        # epoch seconds: when the download link stops working
    started: float | None = None          # epoch seconds: when the export was asked for


@dataclass(frozen=True)
class NewRegion:
    """A region to add to an image: a tag and a box normalised to the image as displayed, already checked."""
    tag_id: str
    left: float
    top: float
    width: float
    height: float

    def key(self) -> tuple:
        """What makes two regions the same region (Azure answers the second one as a duplicate)."""
        return (self.tag_id, *(round(v, 6) for v in (self.left, self.top, self.width, self.height)))


@dataclass(frozen=True)
class NewImage:
    """An image whose bytes are already durable in the blob store, to be recorded with its tags (classification)
    or its regions (object detection)."""
    sha256: str
    width: int
    height: int
    size: int
    tag_ids: tuple[str, ...] = ()
    regions: tuple[NewRegion, ...] = ()


@dataclass(frozen=True)
class RegionEntry:
    """One entry of create_image_regions: a region for an image of the project."""
    image_id: str
    region: NewRegion


@dataclass(frozen=True)
class RegionsAdded:
    """create_image_regions' outcome, per entry: created (with its record), duplicated, or exceeded (the image
    holds the most regions Azure allows)."""
    created: tuple[tuple[RegionEntry, RegionRecord], ...]
    duplicated: tuple[RegionEntry, ...]
    exceeded: tuple[RegionEntry, ...]


@dataclass(frozen=True)
class ImageQuery:
    """Which images of a project to list or count. `iteration_id`: the images as that iteration trained on them."""
    tagged: bool | None = None            # None: tagged and untagged
    tag_ids: tuple[str, ...] = ()         # any of these tags
    image_ids: tuple[str, ...] | None = None
    iteration_id: str | None = None
    newest_first: bool = True
    take: int = 50
    skip: int = 0


@dataclass(frozen=True)
class MetadataUpdate:
    image_id: str
    status: str                           # OK | ErrorImageNotFound | ErrorLimitExceed
    metadata: Mapping[str, str]


@dataclass(frozen=True)
class ProjectChanges:
    """An update of a project: None leaves a field as it is."""
    name: str | None = None
    description: str | None = None
    domain_id: str | None = None
    classification_type: str | None = None
    target_export_platforms: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TagChanges:
    name: str | None = None
    description: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class PredictedTag:
    tag_id: str
    tag_name: str
    tag_type: str
    probability: float
    bounding_box: tuple[float, float, float, float] | None = None  # object detection: left, top, width, height


@dataclass(frozen=True)
class StoredPredictionRecord:
    """A prediction the storing routes kept: the image (a blob) and what the iteration predicted, highest first."""
    id: str
    project_id: str
    iteration_id: str
    application: str | None
    sha256: str
    created: str
    domain_id: str                        # the predicting iteration's (the project's once that is deleted)
    predictions: tuple[PredictedTag, ...]

    @property
    def top_probability(self) -> float:
        return max((p.probability for p in self.predictions), default=0.0)


@dataclass(frozen=True)
class SuggestionRecord:
    """What an iteration suggested for an untagged image (suggest_tags_and_regions), highest first."""
    image: ImageRecord
    iteration_id: str
    predictions: tuple[PredictedTag, ...]
    uncertainty: float
    created: str


# The orders a prediction listing can take, each with the key its keyset cursor holds.
PREDICTION_ORDERS = ("newest", "oldest", "suggested")


@dataclass(frozen=True)
class PredictionFilter:
    """Which stored predictions of a project to list, and in what order.

    `tags`: (tag id, lowest, highest probability) ranges that must all hold. `order`: newest or oldest first by
    `created`, or "suggested": the least certain first (lowest top probability), the ones worth a label most.
    `after`: the (sort key, prediction id) of the last one a previous page returned (created for newest and
    oldest, the top probability for suggested); the listing continues after it, so deleting some of the
    predictions already listed moves nothing.
    """
    iteration_id: str | None = None
    application: str | None = None
    tags: tuple[tuple[str, float, float], ...] = ()
    start: str | None = None              # created >= start (the stored ISO-8601 form)
    end: str | None = None                # created <= end
    order: str = "newest"
    after: tuple[str | float, str] | None = None
    limit: int = 50


# ---- a project as exported (export_project), and as it is imported (import_project)
@dataclass(frozen=True)
class ExportedTag:
    key: str                              # the tag's id in the exported project: how its images name it
    name: str
    description: str | None
    type: str
    created: str


@dataclass(frozen=True)
class ExportedRegion:
    """An object detection region (normalised 0-1), of a tag by its key."""
    tag_key: str
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True)
class ExportedImage:
    sha256: str                           # the blob: on the exporting service, fetched by an importer elsewhere
    width: int
    height: int
    size: int
    metadata: Mapping[str, str]
    created: str
    tag_keys: tuple[str, ...] = ()
    regions: tuple[ExportedRegion, ...] = ()


@dataclass(frozen=True)
class ExportedProject:
    """A project's settings, tags and images as of its export; no iterations (Azure's copy carries none)."""
    name: str
    description: str
    domain_id: str
    classification_type: str
    target_export_platforms: tuple[str, ...]
    tags: tuple[ExportedTag, ...]
    images: tuple[ExportedImage, ...]     # oldest first, as uploaded

    @property
    def region_count(self) -> int:
        return sum(len(i.regions) for i in self.images)

    @property
    def image_bytes(self) -> int:
        return sum(i.size for i in self.images)


@dataclass(frozen=True)
class ProjectExportRecord:
    id: str                               # what the export token names
    project_id: str
    project: ExportedProject
    created: str
    expires: float                        # epoch seconds: the token's lifetime
