"""COCO: one JSON file (`dataset.path`) with `images` ({id, file_name, width, height}), `annotations`
({image_id, category_id, bbox: [x, y, width, height] in pixels}) and `categories` ({id, name}), as CVAT,
Label Studio and Roboflow export it. Read with the stdlib's json (pycocotools' loader is json.load plus indexes
and gives no line numbers), every entry named by its line. `file_name` is relative to `dataset.images` (default:
the file's folder, its images/ or ../images/). Crowd annotations (`iscrowd: 1`) are left out and listed:
Custom Vision has no crowd regions."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.config import DatasetConfig
from pipeline.dataset import jsonlines
from pipeline.dataset.annotations import Annotated, Drawn, Reading
from pipeline.errors import DatasetError


def read(config: DatasetConfig, root: Path) -> Reading:
    if not root.is_file():
        raise DatasetError(f"{root}: a coco dataset's path is its .json file")
    text, data = jsonlines.load(root)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DatasetError(f"{root}:1: not a COCO file: expected an object with a list `images` (and "
                           "`annotations`, `categories`)")
    folders = _image_folders(root, config.images)
    reading = Reading([], folders[0], labels=set())
    categories = _categories(root, text, data, reading)
    by_id: dict[Any, Annotated] = {}
    by_file: dict[str, str] = {}
    for item, line in jsonlines.items(text, "images"):
        where = f"{root}:{line}"
        if not isinstance(item, dict) or "id" not in item or not isinstance(item.get("file_name"), str):
            reading.problems.append(f"{where}: an image needs an `id` and a `file_name`")
            continue
        if item["id"] in by_id:
            reading.problems.append(f"{where}: image id {item['id']!r} again (first at {by_id[item['id']].where})")
            continue
        name = item["file_name"]
        if name in by_file:
            reading.problems.append(f"{where}: {name} is listed twice (image ids {by_file[name]} and {item['id']!r})")
            continue
        by_file[name] = repr(item["id"])
        path = next((folder / name for folder in folders if (folder / name).is_file()), folders[0] / name)
        size = (item.get("width"), item.get("height"))
        valid = all(isinstance(v, (int, float)) and v > 0 for v in size)
        annotated = Annotated(path, where, [], size if valid else None)
        by_id[item["id"]] = annotated
        reading.images.append(annotated)
    if isinstance(data.get("annotations"), list):
        for item, line in jsonlines.items(text, "annotations"):
            _annotation(item, f"{root}:{line}", by_id, categories, reading)
    return reading


def _image_folders(root: Path, given: str | None) -> list[Path]:
    if given is not None:
        folder = root.parent / given
        if not folder.is_dir():
            raise DatasetError(f"dataset.images: no such folder: {folder}")
        return [folder]
    return [root.parent, root.parent / "images", root.parent.parent / "images"]


def _categories(root: Path, text: str, data: dict, reading: Reading) -> dict[Any, str]:
    if not isinstance(data.get("categories"), list):
        raise DatasetError(f"{root}:1: not a COCO file: no list `categories` (the labels)")
    categories: dict[Any, str] = {}
    for item, line in jsonlines.items(text, "categories"):
        if not isinstance(item, dict) or "id" not in item or not str(item.get("name") or "").strip():
            reading.problems.append(f"{root}:{line}: a category needs an `id` and a `name`")
        elif item["id"] in categories:
            reading.problems.append(f"{root}:{line}: category id {item['id']!r} again")
        else:
            categories[item["id"]] = str(item["name"]).strip()
    reading.labels = set(categories.values())
    return categories


def _annotation(item: Any, where: str, images: dict[Any, Annotated], categories: dict[Any, str],
                reading: Reading) -> None:
    if not isinstance(item, dict):
        reading.problems.append(f"{where}: an annotation is an object")
        return
    image = images.get(item.get("image_id"))
    if image is None:
        reading.problems.append(f"{where}: image_id {item.get('image_id')!r} is not in `images`")
        return
    label = categories.get(item.get("category_id"))
    if label is None:
        reading.problems.append(f"{where}: category_id {item.get('category_id')!r} is not in `categories` "
                                "(unknown label)")
        return
    if item.get("iscrowd"):
        reading.skipped.append((image.image, f"{where}: a crowd annotation ({label}), left out: Custom Vision has "
                                             "no crowd regions"))
        return
    bbox = item.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(isinstance(v, (int, float)) for v in bbox)):
        reading.problems.append(f"{where}: {label}: `bbox` must be [x, y, width, height] in pixels")
        return
    x, y, w, h = (float(v) for v in bbox)
    image.drawn.append(Drawn(where, label, (x, y, x + w, y + h), "corners"))
