"""Pascal VOC object detection sets (the shared `animals-detection`): images with their boxes, normalised as
Custom Vision takes regions (left, top, width, height in [0, 1] of the image), read in place."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LabelledPhoto:
    path: Path
    boxes: tuple[tuple[str, float, float, float, float], ...]   # (tag name, left, top, width, height)


def read_split(folder: Path, split: str = "train") -> list[LabelledPhoto]:
    """The images `split`.txt names, in its order, with the boxes of their annotations/*.xml."""
    stems = [s.strip() for s in (folder / f"{split}.txt").read_text().splitlines() if s.strip()]
    return [_photo(folder, stem) for stem in stems]


def per_tag(photos: list[LabelledPhoto], count: int) -> list[LabelledPhoto]:
    """The first `count` photos whose boxes are of each tag (photos with one tag only: a small, balanced set)."""
    chosen: dict[str, list[LabelledPhoto]] = {}
    for photo in photos:
        tags = {b[0] for b in photo.boxes}
        if len(tags) == 1:
            (tag,) = tags
            if len(chosen.setdefault(tag, [])) < count:
                chosen[tag].append(photo)
    return [p for found in chosen.values() for p in found]


def _photo(folder: Path, stem: str) -> LabelledPhoto:
    root = ET.parse(folder / "annotations" / f"{stem}.xml").getroot()
    width, height = float(root.findtext("size/width")), float(root.findtext("size/height"))
    boxes = []
    for obj in root.iter("object"):
        box = obj.find("bndbox")
        x1, y1, x2, y2 = (float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        left, top = max(0.0, x1 / width), max(0.0, y1 / height)
        right, bottom = min(1.0, x2 / width), min(1.0, y2 / height)
        if right > left and bottom > top:
            boxes.append((obj.findtext("name").strip(), left, top, right - left, bottom - top))
    return LabelledPhoto(folder / "images" / f"{stem}.jpg", tuple(boxes))
