"""An object detection iteration's held-out predictions, read with `get_image_performances` like classification's
(heldout.py): each training image with its regions (the labelled boxes, as the iteration trained on them) and
the boxes a model that did not train on it detected, each with its tag and probability. Boxes are Custom
Vision's: left, top, width, height as fractions of the image.

Kept beside the dataset manifests the same way (`heldout-ITERATION_ID.json`, a format of its own, numbers to 6
decimals) so that a rerun of the same iteration reads the copy instead of the service."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.insight.heldout import DECIMALS, HeldOut, image_performances, kept_or_read, write_json

FORMAT = "cvops-heldout-detection/1"


@dataclass(frozen=True)
class Box:
    tag: str
    left: float
    top: float
    width: float
    height: float
    probability: float = 1.0  # a labelled box's is 1

    def iou(self, other: "Box") -> float:
        """Intersection over union (0 when the boxes do not overlap or have no area)."""
        width = min(self.left + self.width, other.left + other.width) - max(self.left, other.left)
        height = min(self.top + self.height, other.top + other.height) - max(self.top, other.top)
        inter = max(width, 0.0) * max(height, 0.0)
        union = self.width * self.height + other.width * other.height - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class HeldOutBoxes:
    image_id: str
    regions: tuple[Box, ...]  # labelled
    predictions: tuple[Box, ...]  # detected by a model that did not see the image


def read_held_out_boxes(trainer: Any, project_id: str, iteration: Any, kept: Path | None = None,
                        keep: bool = False) -> HeldOut:
    """From the copy in the folder `kept` when there is one, else from the service (and copied there if `keep`)."""
    def from_service() -> HeldOut:
        images = [HeldOutBoxes(image.id,
                               tuple(_box(r.tag_name, r) for r in (image.regions or []) if r.tag_name),
                               tuple(_box(p.tag_name, p.bounding_box, p.probability) for p in (image.predictions or [])
                                     if p.tag_name and p.bounding_box is not None))
                  for image in image_performances(trainer, project_id, iteration)]
        return HeldOut(iteration.id, iteration.name, images, _tags(images))

    return kept_or_read(kept, iteration, keep, from_service, _read_copy, _write_copy)


def _box(tag: str, box: Any, probability: float | None = 1.0) -> Box:
    return Box(tag, *(round(float(getattr(box, side) or 0.0), DECIMALS) for side in ("left", "top", "width", "height")),
               probability=round(float(probability or 0.0), DECIMALS))


def _tags(images: list[HeldOutBoxes]) -> list[str]:
    return sorted({b.tag for image in images for b in (*image.regions, *image.predictions)})


def _write_copy(path: Path, held_out: HeldOut) -> None:
    index = {tag: i for i, tag in enumerate(held_out.tags)}
    def rows(boxes, probability):
        return [[index[b.tag], b.left, b.top, b.width, b.height, *([b.probability] if probability else [])]
                for b in boxes]
    write_json(path, {"format": FORMAT, "iteration_id": held_out.iteration_id, "tags": held_out.tags,
                      "images": [[i.image_id, rows(i.regions, False), rows(i.predictions, True)]
                                 for i in held_out.images]})


def _read_copy(path: Path, iteration: Any) -> HeldOut | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or data.get("iteration_id") != iteration.id:
            return None
        tags = [str(t) for t in data["tags"]]
        def boxes(rows):
            return tuple(Box(tags[row[0]], *(float(x) for x in row[1:5]),
                             **({"probability": float(row[5])} if len(row) == 6 else {})) for row in rows)
        images = [HeldOutBoxes(str(image_id), boxes(regions), boxes(predictions))
                  for image_id, regions, predictions in data["images"]]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    return HeldOut(iteration.id, iteration.name, images, tags)
