"""Suggested tags and regions on the wire: suggest_tags_and_regions' query and answer, and the queries of the
untagged images by what was suggested for them (SuggestedTagAndRegionQueryToken, TagFilter).

A suggestion's `predictionUncertainty` here is 1 minus its highest probability (1.0 when nothing was predicted):
the images a model is least sure about are the ones worth labelling first, and sortBy orders by it. (Azure does
not document its own formula.)
"""
from __future__ import annotations

import base64
import binascii

from pydantic import Field, field_validator

from ... import errors
from ...store.records import SuggestionRecord
from ..links import Links
from .common import IdList, Wire
from .predictions import Prediction

MAX_SUGGESTED_IMAGES = 64   # suggest_tags_and_regions: "There is a limit of 64 images in the batch"
MAX_COUNT = 256
SORTS = {"uncertaintyascending": False, "uncertaintydescending": True}


def uncertainty(predictions: list[dict]) -> float:
    return 1.0 - max((p["probability"] for p in predictions), default=0.0)


class SuggestQuery(Wire):
    """suggest_tags_and_regions: the iteration to ask and 1 to 64 of the project's images."""
    iteration_id: str = ""
    image_ids: IdList = []

    @field_validator("image_ids")
    @classmethod
    def _one_to_64(cls, ids: list[str]) -> list[str]:
        if not ids or len(ids) > MAX_SUGGESTED_IMAGES:
            raise errors.bad_request(f"Name 1 to {MAX_SUGGESTED_IMAGES} images (imageIds).", "BadRequestInvalidIds")
        return list(dict.fromkeys(ids))


class SuggestedIterationQuery(Wire):
    """query_suggested_images(/count): whose suggestions (iterationId, required)."""
    iteration_id: str = ""

    @field_validator("iteration_id")
    @classmethod
    def _required(cls, iteration_id: str) -> str:
        if not iteration_id.strip():
            raise errors.bad_request("iterationId is required: the iteration whose suggestions to read.",
                                     "BadRequestRequiredParamIsNull")
        return iteration_id


class TagFilter(Wire):
    """query_suggested_image_count's body."""
    tag_ids: list[str] = Field(default_factory=list)
    threshold: float = Field(0.0, ge=0.0, le=1.0)


class SuggestedTagAndRegionQueryToken(TagFilter):
    """query_suggested_images' body: the token of the previous answer continues a listing."""
    session: str | None = None
    continuation: str | None = None
    max_count: int = Field(50, ge=1, le=MAX_COUNT)
    sort_by: str | None = None

    @field_validator("sort_by")
    @classmethod
    def _sort(cls, value: str | None) -> str | None:
        if value and value.lower() not in SORTS:
            raise errors.bad_request(f"Unknown sortBy '{value}'; use UncertaintyAscending or UncertaintyDescending.")
        return value

    @property
    def most_uncertain_first(self) -> bool:
        return SORTS.get((self.sort_by or "").lower(), True)

    def skip(self) -> int:
        if not self.continuation:
            return 0
        try:
            skip = int(base64.urlsafe_b64decode(self.continuation.encode("ascii")).decode("ascii"))
        except (ValueError, UnicodeError, binascii.Error):
            skip = -1
        if skip < 0:
            raise errors.bad_request("continuation is not one this service gave; send the token of the last "
                                     "answer, or none to start again.")
        return skip

    def next(self, listed: int) -> "SuggestedTagAndRegionQueryToken":
        more = listed > self.max_count
        nxt = base64.urlsafe_b64encode(str(self.skip() + self.max_count).encode()).decode() if more else None
        return self.model_copy(update={"continuation": nxt})


# ---- responses
class SuggestedTagAndRegion(Wire):
    id: str
    project: str
    iteration: str
    created: str
    predictions: list[Prediction]
    prediction_uncertainty: float


class StoredSuggestedTagAndRegion(SuggestedTagAndRegion):
    width: int
    height: int
    resized_image_uri: str
    thumbnail_uri: str
    original_image_uri: str
    domain: str

    @classmethod
    def of(cls, found: SuggestionRecord, domain_id: str, links: Links, base: str) -> "StoredSuggestedTagAndRegion":
        image = found.image
        return cls(id=image.id, project=image.project_id, iteration=found.iteration_id, created=found.created,
                   predictions=[Prediction.of(p) for p in found.predictions],
                   prediction_uncertainty=found.uncertainty, width=image.width, height=image.height,
                   resized_image_uri=links.image_url(base, image.id, "resized"),
                   thumbnail_uri=links.image_url(base, image.id, "thumbnail"),
                   original_image_uri=links.image_url(base, image.id, "original"), domain=domain_id)


class SuggestedTagAndRegionQuery(Wire):
    token: SuggestedTagAndRegionQueryToken
    results: list[StoredSuggestedTagAndRegion]
