"""Rows to records: the one place the JSON columns (tags, snapshot, metadata, timings, ...) are decoded."""
from __future__ import annotations

import dataclasses
import json

from ..records import (ExportRecord, ImageRecord, ImageTagRecord, IterationRecord, ProjectRecord, RegionRecord,
                       SnapshotEntry, TagRecord, TagRef, TrainedRegion)
from .db import Row

# Columns of `iterations` that records carry (not the training snapshot and regions, which can be large).
ITERATION_COLUMNS = ("id, project_id, name, status, created, last_modified, trained_at, domain_id, "
                     "classification_type, training_type, reserved_budget_hours, training_seconds, publish_name, "
                     "publish_resource_id, error_details, tags, model_digest, heldout_digest, timings")


def project(row: Row) -> ProjectRecord:
    return ProjectRecord(id=row["id"], name=row["name"], description=row["description"],
                         domain_id=row["domain_id"], classification_type=row["classification_type"],
                         target_export_platforms=tuple(json.loads(row["target_export_platforms"])),
                         created=row["created"], last_modified=row["last_modified"])


def tag(row: Row, image_count: int | None = None) -> TagRecord:
    return TagRecord(id=row["id"], project_id=row["project_id"], name=row["name"], description=row["description"],
                     type=row["type"], created=row["created"],
                     image_count=row["image_count"] if image_count is None else image_count)


def image(row: Row, tags: tuple[ImageTagRecord, ...] = (), regions: tuple[RegionRecord, ...] = ()) -> ImageRecord:
    return ImageRecord(id=row["id"], project_id=row["project_id"], sha256=row["sha256"], width=row["width"],
                       height=row["height"], size=row["size"], metadata=json.loads(row["metadata"]),
                       created=row["created"], tags=tags, regions=regions)


def region(row: Row) -> RegionRecord:
    """A `regions` row joined with its tag's name (as `name`)."""
    return RegionRecord(id=row["id"], tag_id=row["tag_id"], tag_name=row["name"], left=row["box_left"],
                        top=row["box_top"], width=row["box_width"], height=row["box_height"], created=row["created"])


def image_tag(row: Row) -> ImageTagRecord:
    return ImageTagRecord(tag_id=row["tag_id"], tag_name=row["name"], created=row["created"])


def iteration(row: Row) -> IterationRecord:
    return IterationRecord(
        id=row["id"], project_id=row["project_id"], name=row["name"], status=row["status"],
        created=row["created"], last_modified=row["last_modified"], trained_at=row["trained_at"],
        domain_id=row["domain_id"], classification_type=row["classification_type"],
        training_type=row["training_type"], reserved_budget_hours=row["reserved_budget_hours"],
        training_seconds=row["training_seconds"], publish_name=row["publish_name"],
        publish_resource_id=row["publish_resource_id"], error_details=row["error_details"],
        tags=tag_refs(row["tags"]), model_digest=row["model_digest"], heldout_digest=row["heldout_digest"],
        timings=json.loads(row["timings"]))


def tag_refs(stored: str) -> tuple[TagRef, ...]:
    return tuple((tag_id, name) for tag_id, name in json.loads(stored))


def snapshot(stored: str) -> tuple[SnapshotEntry, ...]:
    return tuple((sha, tuple(tag_ids)) for sha, tag_ids in json.loads(stored))


def trained_regions(stored: str) -> dict[str, tuple[TrainedRegion, ...]]:
    """An iteration's `regions` column: {image sha256: ((region id, tag id, left, top, width, height), ...)}."""
    return {sha: tuple((rid, tid, float(l), float(t), float(w), float(h)) for rid, tid, l, t, w, h in boxes)
            for sha, boxes in json.loads(stored).items()}


def export(row: Row) -> ExportRecord:
    return ExportRecord(id=row["id"], iteration_id=row["iteration_id"], platform=row["platform"],
                        flavor=row["flavor"], status=row["status"], token=row["token"],
                        blob_digest=row["blob_digest"], created=row["created"], expires=row["expires"],
                        started=row["started"])


def lost_export(export: ExportRecord) -> ExportRecord:
    """An export whose builder stopped before it finished: Failed, as a client should be told."""
    return dataclasses.replace(export, status="Failed")
