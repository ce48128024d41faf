"""YOLO (Darknet, Ultralytics): a .txt file an image, one box a line, `CLASS CX CY W H`, the class a number into
the class list and the box normalised to the image (centre, width, height). Layouts:

    PATH/images/A/NAME.jpg + PATH/labels/A/NAME.txt   (Ultralytics; dataset.images / dataset.annotations)
    PATH/NAME.jpg + PATH/NAME.txt                     (Darknet: side by side)

The class list is `dataset.classes` (a list, or a file), else PATH/classes.txt, PATH/obj.names or PATH/data.yaml
(`names`, a list or {number: name}). An image without a .txt file, or with an empty one, has no boxes. Values
are rounded by the tools that write them, so a box may end up to a pixel past an edge and is clipped there."""
from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.config import DatasetConfig
from pipeline.dataset.annotations import Annotated, Drawn, Reading, folder_in, hidden
from pipeline.dataset.scan import IMAGE_SUFFIXES
from pipeline.errors import DatasetError

CLASS_FILES = ("classes.txt", "obj.names", "data.yaml")


def read(config: DatasetConfig, root: Path) -> Reading:
    if not root.is_dir():
        raise DatasetError(f"{root}: a yolo dataset is a folder (images, .txt labels and a class list)")
    images_dir = folder_in(root, config.images, "images")
    labels_dir = folder_in(root, config.annotations, "labels", fallback=images_dir)
    classes = class_list(root, config.classes)
    reading = Reading([], images_dir, labels=set(classes))
    for image in sorted(images_dir.rglob("*")):
        if image.suffix.lower() not in IMAGE_SUFFIXES or hidden(image, images_dir):
            continue
        label_file = (labels_dir / image.relative_to(images_dir)).with_suffix(".txt")
        annotated = Annotated(image, str(label_file) if label_file.is_file() else str(image))
        if label_file.is_file():
            _lines(label_file, classes, annotated, reading.problems)
        reading.images.append(annotated)
    return reading


def class_list(root: Path, given: list[str] | str | None) -> list[str]:
    """The class names in class-number order."""
    if isinstance(given, list):
        return given
    if given is not None:
        path = root / given
        if not path.is_file():
            raise DatasetError(f"dataset.classes: no such file: {path}")
    else:
        path = next((root / name for name in CLASS_FILES if (root / name).is_file()), None)
        if path is None:
            raise DatasetError(f"{root}: a yolo dataset needs its class list: dataset.classes (a list or a file), "
                               f"or one of {', '.join(CLASS_FILES)} in the dataset folder")
    return read_class_file(path)


def read_class_file(path: Path) -> list[str]:
    """One name a line (classes.txt, obj.names), or a data.yaml's `names`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot be read: {exc}") from None
    if path.suffix.lower() not in (".yaml", ".yml"):
        return [line.strip() for line in text.splitlines() if line.strip()]
    try:
        names = (yaml.safe_load(text) or {}).get("names")
    except (yaml.YAMLError, AttributeError) as exc:
        raise DatasetError(f"{path}: not a YOLO data.yaml: {exc}") from None
    if isinstance(names, dict) and all(isinstance(k, int) for k in names):
        names = [names[k] for k in sorted(names)]
    if not isinstance(names, list) or not names:
        raise DatasetError(f"{path}: no `names` list (the class names, in class-number order)")
    return [str(name) for name in names]


def _lines(label_file: Path, classes: list[str], annotated: Annotated, problems: list[str]) -> None:
    try:
        lines = label_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{label_file}: cannot be read: {exc}")
        return
    for number, line in enumerate(lines, 1):
        where, fields = f"{label_file}:{number}", line.split()
        if not fields:
            continue
        if len(fields) != 5:
            kind = "a polygon (segmentation) line" if len(fields) > 5 and len(fields) % 2 == 1 else "not a box"
            problems.append(f"{where}: {kind}: a box line is CLASS CX CY W H (5 values, {len(fields)} here)")
            continue
        try:
            index, (cx, cy, w, h) = int(fields[0]), (float(v) for v in fields[1:])
        except ValueError:
            problems.append(f"{where}: CLASS must be a whole number and CX CY W H numbers: {line.strip()!r}")
            continue
        if not 0 <= index < len(classes):
            problems.append(f"{where}: class {index} is not in the class list (unknown label; {len(classes)} "
                            f"classes: 0 to {len(classes) - 1})")
            continue
        annotated.drawn.append(Drawn(where, classes[index], (cx - w / 2, cy - h / 2, w, h), "normalised", 1.0))
