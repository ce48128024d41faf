"""Stored predictions on the wire: query_predictions' PredictionQueryToken (filters, order, continuation), the
results (StoredImagePrediction), and delete_prediction's ids.

A continuation is this service's keyset cursor: the order and the (sort key, id) of the last prediction returned,
as URL-safe base64 JSON. The answer's token is the request's with the next continuation (null at the end), so a
client pages by sending the token back, as the SDK's callers do with `result.token`.
"""
from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone
from typing import Annotated

from pydantic import AfterValidator, field_validator

from ... import errors
from ...store.records import PREDICTION_ORDERS, PredictionFilter, StoredPredictionRecord
from ..links import Links
from .common import IdList, Wire
from .predictions import Prediction

DEFAULT_MAX_COUNT = 50
MAX_COUNT = 256           # as many as an image listing's `take`
MAX_TAGS = 2              # "Limited to combining 2 tags" (the SDK's query_predictions)
MAX_DELETE = 64           # delete_prediction: "Limited to 64"
INVALID = "BadRequestPredictionInvalidQueryParameters"


def _invalid(message: str) -> errors.CustomVisionError:
    return errors.bad_request(message, INVALID)


def _stored_time(moment: datetime | None) -> str | None:
    """A moment in the stored form of `created` (UTC, microseconds, 'Z'), so the two compare as text."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _order(value: str | None) -> str | None:
    if value is not None and value.lower() not in PREDICTION_ORDERS:
        raise _invalid(f"Unknown orderBy '{value}'; use Newest, Oldest or Suggested.")
    return value


class PredictionQueryTag(Wire):
    """Predictions whose probability for tag `id` lies in [minThreshold, maxThreshold]."""
    id: str
    min_threshold: float | None = None
    max_threshold: float | None = None

    def range(self) -> tuple[str, float, float]:
        lowest = 0.0 if self.min_threshold is None else self.min_threshold
        highest = 1.0 if self.max_threshold is None else self.max_threshold
        if not 0.0 <= lowest <= highest <= 1.0:
            raise _invalid(f"Tag {self.id}: minThreshold and maxThreshold must satisfy 0 <= min <= max <= 1.")
        return self.id, lowest, highest


class PredictionQueryToken(Wire):
    session: str | None = None
    continuation: str | None = None
    max_count: int | None = None
    order_by: Annotated[str | None, AfterValidator(_order)] = None
    tags: list[PredictionQueryTag] | None = None
    iteration_id: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    application: str | None = None

    @field_validator("max_count")
    @classmethod
    def _count(cls, count: int | None) -> int | None:
        if count is not None and count > MAX_COUNT:
            raise errors.bad_request(f"maxCount is at most {MAX_COUNT}; page with the continuation instead.",
                                     "BadRequestPredictionResultsExceededCount")
        if count is not None and count < 1:
            raise _invalid("maxCount must be at least 1.")
        return count

    @field_validator("tags")
    @classmethod
    def _at_most_two(cls, tags: list[PredictionQueryTag] | None) -> list[PredictionQueryTag] | None:
        if tags and len(tags) > MAX_TAGS:
            raise errors.bad_request(f"A query combines at most {MAX_TAGS} tags.",
                                     "BadRequestPredictionTagsExceededCount")
        return tags

    @property
    def order(self) -> str:
        return (self.order_by or "Newest").lower()

    def to_filter(self) -> PredictionFilter:
        """The store's filter for one page: one more than asked for, which says whether there are more."""
        start, end = _stored_time(self.start_time), _stored_time(self.end_time)
        if start and end and start > end:
            raise _invalid("startTime is after endTime.")
        return PredictionFilter(iteration_id=self.iteration_id or None, application=self.application,
                                tags=tuple(t.range() for t in self.tags or ()), start=start, end=end,
                                order=self.order, after=self._cursor(),
                                limit=(self.max_count or DEFAULT_MAX_COUNT) + 1)

    def _cursor(self) -> tuple[str | float, str] | None:
        if not self.continuation:
            return None
        try:
            order, key, last_id = json.loads(base64.urlsafe_b64decode(self.continuation.encode("ascii")))
        except (ValueError, TypeError, binascii.Error, UnicodeError):
            raise _invalid("continuation is not one this service gave; send the token of the last answer, "
                           "or none to start again.") from None
        if order != self.order or not isinstance(last_id, str) or not isinstance(key, (str, float, int)):
            raise _invalid("continuation belongs to a query in another order; send the token of the last answer "
                           "unchanged.")
        return key, last_id

    def next_page(self, records: list[StoredPredictionRecord]) -> tuple[list[StoredPredictionRecord],
                                                                       "PredictionQueryToken"]:
        """(this page, the token for the next one) from what `to_filter` listed."""
        wanted = self.max_count or DEFAULT_MAX_COUNT
        page, more = records[:wanted], len(records) > wanted
        continuation = None
        if more:
            last = page[-1]
            key = last.top_probability if self.order == "suggested" else last.created
            continuation = base64.urlsafe_b64encode(json.dumps([self.order, key, last.id]).encode()).decode()
        return page, self.model_copy(update={"continuation": continuation})


class StoredImagePrediction(Wire):
    resized_image_uri: str
    thumbnail_uri: str
    original_image_uri: str
    domain: str
    id: str
    project: str
    iteration: str
    created: str
    predictions: list[Prediction]

    @classmethod
    def of(cls, record: StoredPredictionRecord, links: Links, base: str) -> "StoredImagePrediction":
        return cls(resized_image_uri=links.prediction_url(base, record.id, "resized"),
                   thumbnail_uri=links.prediction_url(base, record.id, "thumbnail"),
                   original_image_uri=links.prediction_url(base, record.id, "original"),
                   domain=record.domain_id, id=record.id, project=record.project_id, iteration=record.iteration_id,
                   created=record.created,
                   predictions=[Prediction.of(p) for p in record.predictions])


class PredictionQueryResult(Wire):
    token: PredictionQueryToken
    results: list[StoredImagePrediction]


class PredictionDeleteQuery(Wire):
    """delete_prediction: 1 to 64 prediction ids."""
    ids: IdList = []

    @field_validator("ids")
    @classmethod
    def _one_to_64(cls, ids: list[str]) -> list[str]:
        if not ids:
            raise errors.bad_request("Name the predictions to delete (ids).", "BadRequestPredictionIdsMissing")
        if len(ids) > MAX_DELETE:
            raise errors.bad_request(f"At most {MAX_DELETE} prediction ids per call.",
                                     "BadRequestPredictionIdsExceededCount")
        return ids
