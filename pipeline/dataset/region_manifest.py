"""Custom Vision's own regions in a JSON manifest (`layout: manifest` on an object detection project): the
`manifest.json` that `cvops export` writes for a detection project, or any list of

    {"path": "images/a.jpg", "regions": [{"tag": "apple", "left": 0.1, "top": 0.2, "width": 0.3, "height": 0.4}]}

(`tagName` is taken for `tag`, as Azure's API spells it). Regions are normalised as Azure stores them, so none is
clipped: a region past an edge is refused, as the service would refuse it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.config import DatasetConfig
from pipeline.dataset import jsonlines
from pipeline.dataset.annotations import Annotated, Drawn, Reading
from pipeline.errors import DatasetError

KEYS = ("left", "top", "width", "height")


def read(config: DatasetConfig, root: Path) -> Reading:
    if not root.is_file() or root.suffix.lower() != ".json":
        raise DatasetError(f"{root}: an object detection manifest is a .json file ({{\"images\": [{{path, "
                           "regions: [...]}}]}})")
    text, data = jsonlines.load(root)
    if isinstance(data, dict) and isinstance(data.get("images"), list):
        rows = jsonlines.items(text, "images")
    elif isinstance(data, list):
        rows = jsonlines.items(text)
    else:
        raise DatasetError(f"{root}:1: expected a JSON list of {{path, regions}} (or {{\"images\": [...]}})")
    reading = Reading([], root.parent)
    for row, line in rows:
        where = f"{root}:{line}"
        if not isinstance(row, dict) or not isinstance(row.get("path"), str):
            reading.problems.append(f"{where}: the item has no 'path' (each is {{\"path\": ..., \"regions\": "
                                    "[...]}})")
            continue
        annotated = Annotated(root.parent / row["path"], where)
        regions = row.get("regions") or []
        if not isinstance(regions, list):
            reading.problems.append(f"{where}: 'regions' must be a list")
        for index, region in enumerate(regions if isinstance(regions, list) else [], 1):
            _region(region, f"{where}: region {index}", annotated, reading.problems)
        reading.images.append(annotated)
    return reading


def _region(region: Any, where: str, annotated: Annotated, problems: list[str]) -> None:
    tag = region.get("tag", region.get("tagName")) if isinstance(region, dict) else None
    if not isinstance(tag, str) or not tag.strip():
        problems.append(f"{where}: a region needs its tag name ('tag')")
        return
    values = [region.get(key) for key in KEYS]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        problems.append(f"{where}: {tag}: a region needs numbers {', '.join(KEYS)} (normalised to the image)")
        return
    annotated.drawn.append(Drawn(where, tag.strip(), tuple(float(v) for v in values), "normalised"))
