"""Images on the wire: listing queries, upload batches, metadata, image tags, and the JSON clients get back."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, RootModel, field_validator

from ... import errors
from ...store.records import ImageQuery, ImageRecord, MetadataUpdate, TagRef
from ..links import Links
from .common import Flag, IdList, Wire
from .predictions import Prediction
from .regions import ImageRegion, Region

MAX_TAKE = 256            # images a listing returns at most (the SDK checks it too)
MAX_METADATA_PAIRS = 10   # Azure's limits on image metadata: 10 pairs, keys up to 128, values up to 256
MAX_METADATA_KEY = 128
MAX_METADATA_VALUE = 256
TAGGING_STATUSES = {"all": None, "tagged": True, "untagged": False}
ORDERS = {"newest": True, "oldest": False}


def check_metadata(metadata: Any) -> Any:
    """Image metadata as Azure takes it: at most 10 string pairs, keys of 1 to 128 and values of up to 256
    characters."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise errors.bad_request("metadata must be an object of string keys and string values.",
                                 "BadRequestImageMetadataKey")
    if len(metadata) > MAX_METADATA_PAIRS:
        raise errors.bad_request(f"An image has at most {MAX_METADATA_PAIRS} metadata pairs.",
                                 "BadRequestImageMetadataKey")
    for key, value in metadata.items():
        if not key or len(key) > MAX_METADATA_KEY:
            raise errors.bad_request(f"A metadata key must be 1 to {MAX_METADATA_KEY} characters.",
                                     "BadRequestImageMetadataKey")
        if len(value) > MAX_METADATA_VALUE:
            raise errors.bad_request(f"A metadata value may be at most {MAX_METADATA_VALUE} characters.",
                                     "BadRequestImageMetadataValue")
    return metadata


Metadata = Annotated[dict[str, str] | None, BeforeValidator(check_metadata)]


def _choice(choices: dict, name: str) -> AfterValidator:
    def check(value: str | None) -> str | None:
        if value and value.lower() not in choices:
            raise errors.bad_request(f"Unknown {name} '{value}'; use one of {', '.join(k.title() for k in choices)}.")
        return value.lower() if value else None
    return AfterValidator(check)


def _no_metadata_filter(expression: str | None) -> str | None:
    if expression is not None:
        raise errors.not_supported("$filter (filtering images by a metadata expression) is not supported by this "
                                   "service; list the images and filter their metadata in the client.")
    return expression


# ---- requests
class ImageCountQuery(Wire):
    """get_image_count, get_tagged_image_count, get_untagged_image_count (each reads what applies to it)."""
    iteration_id: str | None = None          # the images as that iteration trained on them
    tag_ids: IdList = []
    tagging_status: Annotated[str | None, _choice(TAGGING_STATUSES, "taggingStatus")] = None
    metadata_filter: Annotated[str | None, AfterValidator(_no_metadata_filter)] = Field(None, alias="$filter")

    def query(self, tagged: bool | None = None, *, by_tags: bool = True, **listing: Any) -> ImageQuery:
        """The store's query; `tagged` as the route says, else as taggingStatus says (None: all)."""
        if tagged is None and self.tagging_status:
            tagged = TAGGING_STATUSES[self.tagging_status]
        return ImageQuery(tagged=tagged, tag_ids=tuple(self.tag_ids) if by_tags else (),
                          iteration_id=self.iteration_id or None, **listing)


class ImageListQuery(ImageCountQuery):
    """get_images, get_tagged_images, get_untagged_images."""
    order_by: Annotated[str | None, _choice(ORDERS, "orderBy")] = None
    take: int = Field(50, ge=0, le=MAX_TAKE)
    skip: int = Field(0, ge=0)

    def listing(self, tagged: bool | None = None, *, by_tags: bool = True) -> ImageQuery:
        return self.query(tagged, by_tags=by_tags, newest_first=ORDERS[self.order_by or "newest"], take=self.take,
                          skip=self.skip)


MAX_PERFORMANCE_TAGS = 20  # get_image_performances: "Limited to 20" tag ids


class ImagePerformanceCountQuery(Wire):
    """get_image_performance_count: the iteration's held-out images with any of these tags (as it trained)."""
    tag_ids: IdList = []

    @field_validator("tag_ids")
    @classmethod
    def _at_most_20(cls, ids: list[str]) -> list[str]:
        if len(ids) > MAX_PERFORMANCE_TAGS:
            raise errors.bad_request(f"At most {MAX_PERFORMANCE_TAGS} tag ids (tagIds).")
        return ids

    def query(self, iteration_id: str, **listing: Any) -> ImageQuery:
        return ImageQuery(tagged=True, tag_ids=tuple(self.tag_ids), iteration_id=iteration_id, **listing)


class ImagePerformanceQuery(ImagePerformanceCountQuery):
    """get_image_performances."""
    order_by: Annotated[str | None, _choice(ORDERS, "orderBy")] = None
    take: int = Field(50, ge=0, le=MAX_TAKE)
    skip: int = Field(0, ge=0)

    def listing(self, iteration_id: str) -> ImageQuery:
        return self.query(iteration_id, newest_first=ORDERS[self.order_by or "newest"], take=self.take,
                          skip=self.skip)


class ImageIdsQuery(Wire):
    """get_images_by_ids."""
    image_ids: IdList = []
    iteration_id: str | None = None

    @field_validator("image_ids")
    @classmethod
    def _at_most(cls, ids: list[str]) -> list[str]:
        if len(ids) > MAX_TAKE:
            raise errors.bad_request(f"At most {MAX_TAKE} image ids.", "BadRequestInvalidIds")
        return ids


class ImageDeleteQuery(Wire):
    """delete_images. `allIterations` is accepted and ignored: trained iterations keep their models either way,
    and a deleted image leaves every listing (docs/self-hosted.md)."""
    image_ids: IdList = []
    all_images: Flag = False
    all_iterations: Flag = False


class ImageMetadataQuery(Wire):
    image_ids: IdList = []

    @field_validator("image_ids")
    @classmethod
    def _one_to_64(cls, ids: list[str]) -> list[str]:
        if not ids or len(ids) > 64:
            raise errors.bad_request("Name 1 to 64 images (imageIds).", "BadRequestInvalidIds")
        return ids


class ImageMetadataBody(RootModel[dict[str, str]]):
    root: Annotated[dict[str, str], BeforeValidator(check_metadata)]


class _Entry(Wire):
    """What every entry of an upload batch may carry besides its image: tags (classification) or regions
    (object detection; api/uploads.py checks which the project takes)."""
    tag_ids: list[str] = []
    regions: list[Region] | None = None


class ImageFileEntry(_Entry):
    name: str | None = None
    contents: str = ""                       # standard base64; a bad one fails that image only (ErrorImageFormat)


class ImageUrlEntry(_Entry):
    url: str = ""


class ImageIdCreateEntry(_Entry):
    """A stored prediction (its id) to add to the training images."""
    id: str = ""


class _Batch(Wire):
    """The tags and metadata of a whole upload batch (each entry may add tags of its own)."""
    tag_ids: list[str] = []
    metadata: Metadata = None


class ImageFileBatch(_Batch):
    """create_images_from_files' body."""
    images: list[ImageFileEntry]


class ImageUrlBatch(_Batch):
    """create_images_from_urls' body."""
    images: list[ImageUrlEntry]


class ImageIdCreateBatch(_Batch):
    """create_images_from_predictions' body."""
    images: list[ImageIdCreateEntry]


class ImageTagEntry(Wire):
    image_id: str
    tag_id: str


class ImageTagBatch(Wire):
    """create_image_tags' body."""
    tags: list[ImageTagEntry]


class ImageTagDeleteQuery(Wire):
    image_ids: IdList = []
    tag_ids: IdList = []


# ---- responses
class ImageTag(Wire):
    tag_id: str
    tag_name: str
    created: str


class Image(Wire):
    id: str
    created: str
    width: int
    height: int
    resized_image_uri: str
    thumbnail_uri: str
    original_image_uri: str
    tags: list[ImageTag]
    regions: list[ImageRegion] = []
    metadata: dict[str, str]

    @classmethod
    def of(cls, image: ImageRecord, links: Links, base: str) -> "Image":
        return cls(id=image.id, created=image.created, width=image.width, height=image.height,
                   resized_image_uri=links.image_url(base, image.id, "resized"),
                   thumbnail_uri=links.image_url(base, image.id, "thumbnail"),
                   original_image_uri=links.image_url(base, image.id, "original"),
                   tags=[ImageTag(tag_id=t.tag_id, tag_name=t.tag_name, created=t.created) for t in image.tags],
                   regions=[ImageRegion.of(r) for r in image.regions], metadata=dict(image.metadata))


class ImagePerformance(Wire):
    """A held-out image of an iteration: its tags (and regions) as the iteration trained on them, and what a
    model trained without it predicted (highest first; object detection: the predicted boxes)."""
    predictions: list[Prediction]
    id: str
    created: str
    width: int
    height: int
    image_uri: str
    thumbnail_uri: str
    tags: list[ImageTag]
    regions: list[ImageRegion] = []

    @classmethod
    def of(cls, image: ImageRecord, probabilities, tags: tuple[TagRef, ...], links: Links,
           base: str) -> "ImagePerformance":
        order = sorted(range(len(tags)), key=lambda j: -float(probabilities[j]))
        return cls.with_predictions(image, [Prediction(probability=float(probabilities[j]), tag_id=tags[j][0],
                                                       tag_name=tags[j][1], tag_type="Regular") for j in order],
                                    links, base)

    @classmethod
    def with_predictions(cls, image: ImageRecord, predictions: list[Prediction], links: Links,
                         base: str) -> "ImagePerformance":
        return cls(predictions=predictions, id=image.id, created=image.created, width=image.width,
                   height=image.height, image_uri=links.image_url(base, image.id, "resized"),
                   thumbnail_uri=links.image_url(base, image.id, "thumbnail"),
                   tags=[ImageTag(tag_id=t.tag_id, tag_name=t.tag_name, created=t.created) for t in image.tags],
                   regions=[ImageRegion.of(r) for r in image.regions])


class ImageCreateResult(Wire):
    source_url: str | None
    status: str
    image: Image | None
    # Not in Azure's model (clients ignore it), but it says what to fix; left out when there is nothing to say.
    message: str | None = Field(None, exclude_if=lambda message: not message)


class ImageCreateSummary(Wire):
    is_batch_successful: bool
    images: list[ImageCreateResult]


class ImageMetadataUpdateEntry(Wire):
    image_id: str
    status: str
    metadata: dict[str, str]

    @classmethod
    def of(cls, update: MetadataUpdate) -> "ImageMetadataUpdateEntry":
        return cls(image_id=update.image_id, status=update.status, metadata=dict(update.metadata))


class ImageMetadataUpdateSummary(Wire):
    is_batch_successful: bool
    images: list[ImageMetadataUpdateEntry]


class ImageTagCreateSummary(Wire):
    created: list[ImageTagEntry]
    duplicated: list[ImageTagEntry]
    exceeded: list[ImageTagEntry] = []
