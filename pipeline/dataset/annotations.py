"""An object detection dataset: images with boxes, read from the format a labelling tool wrote (voc.py, coco.py,
yolo.py, region_manifest.py), narrowed to the training subset (`split`, `include`), and turned into Custom Vision
regions (regions.py). Every problem is collected and named (file, line or object) before one DatasetError: a
dataset with any bad box is refused whole, so nothing is uploaded."""
from __future__ import annotations

import fnmatch
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from pipeline.config import DatasetConfig
from pipeline.dataset.regions import Boxes, Frame, Region, region_problems
from pipeline.errors import DatasetError

if TYPE_CHECKING:
    from pipeline.dataset.scan import Dataset

MIN_IMAGES_PER_TAG = 15  # Azure: object detection trains a tag with regions on at least 15 images


@dataclass(frozen=True)
class Drawn:
    """A box as the annotation file has it, before it is checked against its image."""

    where: str  # FILE:LINE, or FILE object N
    label: str  # the file's label (before dataset.tag_names)
    values: tuple[float, float, float, float]
    unit: str  # "corners": pixels x1, y1, x2, y2; "normalised": left, top, width, height
    tolerance_px: float = 0.0  # how far past an edge a normalised box may end and be clipped


@dataclass
class Annotated:
    """One image and the boxes an annotation file gives it."""

    image: Path
    where: str  # the annotation that names the image (FILE, or FILE:LINE)
    drawn: list[Drawn] = field(default_factory=list)
    size: tuple[float, float] | None = None  # the image size the annotation declares (pixel formats)


@dataclass
class Reading:
    """What a reader found: the annotated images, the images folder (for `include` and `split`), the labels it
    declares (None: any), the problems, and what it passed over (with the reason)."""

    images: list[Annotated]
    images_root: Path
    labels: set[str] | None = None
    problems: list[str] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def read(config: DatasetConfig, root: Path) -> Reading:
    """The layout's reader."""
    from pipeline.dataset import coco, region_manifest, voc, yolo
    readers = {"pascal-voc": voc.read, "coco": coco.read, "yolo": yolo.read, "manifest": region_manifest.read}
    return readers[config.layout](config, root)


def folder_in(root: Path, given: str | None, default: str, fallback: Path | None = None) -> Path:
    """`given` inside `root`, else `default` if there, else `fallback` (else `root`)."""
    if given is not None:
        folder = root / given
        if not folder.is_dir():
            raise DatasetError(f"{folder}: no such folder")
        return folder
    return root / default if (root / default).is_dir() else (fallback or root)


def hidden(path: Path, base: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(base).parts)


def selected(config: DatasetConfig, root: Path, reading: Reading) -> list[Annotated]:
    """The images `split`, `include` and `exclude` choose (all without them); a split line naming no image is a
    problem."""
    images = reading.images
    def matches(annotated: Annotated, patterns: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(_relative(annotated.image, reading.images_root), p) for p in patterns)
    if config.include:
        images = [a for a in images if matches(a, config.include)]
    if config.exclude:
        images = [a for a in images if not matches(a, config.exclude)]
    if config.split is None:
        return images
    split_file = root / config.split if root.is_dir() else root.parent / config.split
    try:
        lines = split_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"dataset.split: cannot read {split_file}: {exc}") from None
    index: dict[str, Annotated] = {}
    for annotated in reading.images:
        for name in _names(annotated.image, root if root.is_dir() else root.parent, reading.images_root):
            index.setdefault(name, annotated)
    chosen: dict[int, Annotated] = {}
    for number, line in enumerate(lines, 1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        found = index.get(name.removeprefix("./")) or index.get(Path(name.removeprefix("./")).as_posix())
        if found is None:
            reading.problems.append(f"{split_file}:{number}: {name!r} names no image of the dataset")
        else:
            chosen[id(found)] = found
    kept = {id(a) for a in images}
    return [a for a in reading.images if id(a) in chosen and id(a) in kept]


def _relative(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.name


def _names(image: Path, root: Path, images_root: Path) -> set[str]:
    """The ways a split file may name an image: its path from the dataset or images folder, with or without its
    extension, and its stem (VOC's ImageSets, YOLO's train.txt)."""
    names = {image.stem, image.name, str(image)}
    for base in (root, images_root):
        relative = _relative(image, base)
        names |= {relative, relative.rsplit(".", 1)[0]}
    return names


def regions_of(annotated: Annotated, frame: Frame, problems: list[str]) -> list[Region]:
    """The image's boxes as regions (labels as the file has them); problems appended."""
    stored = False
    if annotated.size is not None:
        mismatch, stored = frame.declared(*annotated.size)
        if mismatch:
            problems.append(f"{annotated.where}: {mismatch}: the boxes cannot be placed")
            return []
    boxes = Boxes(frame, problems)
    for drawn in annotated.drawn:
        if drawn.unit == "corners":
            boxes.pixels(drawn.where, drawn.label, *drawn.values, stored=stored)
        else:
            boxes.normalised(drawn.where, drawn.label, *drawn.values, tolerance_px=drawn.tolerance_px)
    return boxes.regions


def named(regions: list[Region], tag_name: Callable[[str], str]) -> tuple[Region, ...]:
    """The regions with Custom Vision tag names (dataset.tag_names)."""
    return tuple(Region(tag_name(r.tag), r.left, r.top, r.width, r.height, r.origin) for r in regions)


def check_regions(annotated: Annotated, regions: list[Region], labels: set[str] | None, require_boxes: bool,
                  problems: list[str]) -> None:
    """Problems of one image's regions as a whole (an image without boxes is one unless that is allowed)."""
    problems += region_problems(annotated.where, regions, labels)
    if require_boxes and not regions and not annotated.drawn:
        problems.append(f"{annotated.where}: {annotated.image.name} has no boxes (dataset.require_boxes; set it "
                        "to false to keep such images, without regions)")


def conflicting(images: list[tuple[str, tuple[Region, ...], str]]) -> list[str]:
    """(sha256, regions, where) of every image: the same image given twice with different boxes."""
    by_hash: dict[str, list[tuple[tuple[Region, ...], str]]] = defaultdict(list)
    for sha, regions, where in images:
        by_hash[sha].append((regions, where))
    problems = []
    for group in by_hash.values():
        keys = {tuple(sorted(r.key() for r in regions)) for regions, _ in group}
        if len(keys) > 1:
            problems.append(f"{' and '.join(where for _, where in group)}: the same image twice with different "
                            f"boxes ({' / '.join(str(len(regions)) for regions, _ in group)} boxes)")
    return problems


def too_few(counts: dict[str, int]) -> list[str]:
    """Tags with regions on fewer images than Azure's object detection trains on."""
    return [f"tag {tag!r} has boxes on {count} image{'s' * (count != 1)}; Custom Vision's object detection needs "
            f"at least {MIN_IMAGES_PER_TAG} per tag: add {MIN_IMAGES_PER_TAG - count} more"
            for tag, count in counts.items() if count < MIN_IMAGES_PER_TAG]


def scan_boxes(config: DatasetConfig, root: Path, tag_name: Callable[[str], str]) -> Dataset:
    """Every chosen image with its regions and content hash; raises DatasetError listing every problem."""
    from pipeline.dataset.scan import (MAX_IMAGE_BYTES, Dataset, DatasetImage, Skipped, file_sha256, listing,
                                       looks_like_image)
    reading = read(config, root)
    labels = _allowed(config, root, reading.labels)
    problems = reading.problems
    images: list[DatasetImage] = []
    hashed: list[tuple[str, tuple[Region, ...], str]] = []
    skipped = [Skipped(path, reason) for path, reason in reading.skipped]
    source_tags: set[str] = set()
    for annotated in selected(config, root, reading):
        path = annotated.image
        if not path.is_file():
            problems.append(f"{annotated.where}: image {path} not found")
            continue
        sha, size, head = file_sha256(path)
        if size == 0 or size > MAX_IMAGE_BYTES or not looks_like_image(head):
            problems.append(f"{annotated.where}: {path}: " + ("empty file" if size == 0 else
                            f"{size / 1e6:.1f} MB, over Custom Vision's 6 MB limit for training images"
                            if size > MAX_IMAGE_BYTES else "not a JPEG, PNG, BMP or GIF image"))
            continue
        try:
            frame = Frame.of(path)
        except ValueError as exc:
            problems.append(f"{annotated.where}: {path}: {exc}")
            continue
        found = regions_of(annotated, frame, problems)
        check_regions(annotated, found, labels, config.require_boxes, problems)
        source_tags |= {r.tag for r in found}
        regions = named(found, tag_name)
        hashed.append((sha, regions, annotated.where))
        tags = tuple(sorted({r.tag for r in regions}))
        images.append(DatasetImage(path, tags, size, sha, annotated.where, regions))
    problems += conflicting(hashed)
    if problems:
        raise DatasetError(listing(f"the dataset's boxes have {len(problems)} problem(s), nothing was uploaded",
                                   problems))
    unique = list({image.sha256: image for image in reversed(images)}.values())[::-1]  # the first of each copy
    return Dataset(root, unique, source_tags, skipped)


def _allowed(config: DatasetConfig, root: Path, declared: set[str] | None) -> set[str] | None:
    """The labels boxes may use: the format's own list (COCO's categories, YOLO's classes) and `classes`."""
    if config.classes is None or config.layout == "yolo":
        return declared
    from pipeline.dataset.yolo import read_class_file
    base = root if root.is_dir() else root.parent
    listed = set(config.classes) if isinstance(config.classes, list) else set(read_class_file(base / config.classes))
    return listed if declared is None else listed & declared
