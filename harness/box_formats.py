"""Copies of a Pascal VOC set (the shared `animals-detection`) in the other formats labelling tools write, made in
a test's tmp folder: COCO JSON and YOLO txt, plus a VOC copy whose annotations a test may edit. Images are linked,
never copied into the repository. Written as CVAT and Ultralytics' converters write them (COCO: [x, y, w, h] in
pixels; YOLO: centre and size normalised, full float precision), without reading them back: the pipeline's
readers are what the tests check."""
from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path


def _objects(xml: Path) -> tuple[str, int, int, list[tuple[str, float, float, float, float]]]:
    root = ET.parse(xml).getroot()
    boxes = []
    for obj in root.iter("object"):
        b = obj.find("bndbox")
        boxes.append((obj.findtext("name").strip(), *(float(b.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))))
    return root.findtext("filename"), int(root.findtext("size/width")), int(root.findtext("size/height")), boxes


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(source, target)
    except OSError:
        shutil.copyfile(source, target)


def voc_copy(voc: Path, stems: list[str], out: Path) -> Path:
    """OUT/images (links) + OUT/annotations (copies, editable)."""
    for stem in stems:
        _link(voc / "images" / f"{stem}.jpg", out / "images" / f"{stem}.jpg")
        (out / "annotations").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(voc / "annotations" / f"{stem}.xml", out / "annotations" / f"{stem}.xml")
    return out


def voc_to_coco(voc: Path, stems: list[str], out: Path) -> Path:
    """OUT/annotations.json + OUT/images (links); returns the JSON file."""
    images, annotations, categories = [], [], {}
    for number, stem in enumerate(stems, 1):
        name, width, height, boxes = _objects(voc / "annotations" / f"{stem}.xml")
        _link(voc / "images" / f"{stem}.jpg", out / "images" / name)
        images.append({"id": number, "file_name": name, "width": width, "height": height})
        for label, x1, y1, x2, y2 in boxes:
            category = categories.setdefault(label, len(categories) + 1)
            annotations.append({"id": len(annotations) + 1, "image_id": number, "category_id": category,
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    body = {"images": images, "annotations": annotations,
            "categories": [{"id": i, "name": n} for n, i in categories.items()]}
    path = out / "annotations.json"
    path.write_text(json.dumps(body, indent=1))
    return path


def voc_to_yolo(voc: Path, stems: list[str], out: Path) -> Path:
    """OUT/images (links) + OUT/labels/*.txt + OUT/classes.txt; returns OUT."""
    classes: list[str] = []
    for stem in stems:
        _, width, height, boxes = _objects(voc / "annotations" / f"{stem}.xml")
        _link(voc / "images" / f"{stem}.jpg", out / "images" / f"{stem}.jpg")
        lines = []
        for label, x1, y1, x2, y2 in boxes:
            if label not in classes:
                classes.append(label)
            lines.append(f"{classes.index(label)} {(x1 + x2) / 2 / width!r} {(y1 + y2) / 2 / height!r} "
                         f"{(x2 - x1) / width!r} {(y2 - y1) / height!r}")
        (out / "labels").mkdir(parents=True, exist_ok=True)
        (out / "labels" / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    (out / "classes.txt").write_text("\n".join(classes) + "\n")
    return out
