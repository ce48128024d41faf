"""The labelled images on disk: scan a folder-per-tag tree or a CSV/JSON manifest, hash every image, and
refuse a dataset Custom Vision would refuse (before anything is uploaded). Files a folder-per-tag scan passes
over (not images, formats Custom Vision does not take, empty tag folders, files outside any tag folder) are
kept in `Dataset.skipped` with the reason, so `validate` can name them; hidden files are ignored. Manifest
errors name the manifest's line."""
from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from pipeline.config import DatasetConfig
from pipeline.dataset import jsonlines
from pipeline.dataset.regions import Region
from pipeline.errors import DatasetError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif"}
# Image formats people keep next to their photos that Custom Vision does not take.
OTHER_IMAGE_SUFFIXES = {".webp", ".tif", ".tiff", ".heic", ".heif", ".avif", ".svg", ".ico", ".jxl", ".raw",
                        ".cr2", ".nef", ".dng", ".psd"}
MAX_IMAGE_BYTES = 6 * 1024 * 1024  # training uploads
MIN_IMAGES_PER_TAG = 5
MIN_TAGS = 2
_MAGIC = {b"\xff\xd8\xff": "JPEG", b"\x89PNG": "PNG", b"BM": "BMP", b"GIF8": "GIF"}


@dataclass(frozen=True)
class DatasetImage:
    path: Path
    tags: tuple[str, ...]  # Custom Vision tag names, after `tag_names`
    size: int
    sha256: str
    origin: str | None = field(default=None, compare=False)  # MANIFEST:LINE for a manifest's image
    # object detection: the image's boxes (its tags are theirs), normalised, EXIF orientation applied
    regions: tuple[Region, ...] | None = None


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


@dataclass
class Dataset:
    root: Path
    images: list[DatasetImage]
    source_tags: set[str]  # folder or manifest tag names, before `tag_names`
    skipped: list[Skipped] = field(default_factory=list)  # files and folders passed over, with the reason

    @property
    def detection(self) -> bool:
        return any(image.regions is not None for image in self.images)

    @property
    def tags(self) -> list[str]:
        return sorted({t for image in self.images for t in image.tags})

    def counts(self) -> dict[str, int]:
        counter = Counter(t for image in self.images for t in image.tags)
        return {tag: counter[tag] for tag in self.tags}

    @property
    def total_bytes(self) -> int:
        return sum(image.size for image in self.images)


def file_sha256(path: Path) -> tuple[str, int, bytes]:
    """(hex sha256, size, first bytes) of a file, read once."""
    digest, size, head = hashlib.sha256(), 0, b""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            head = head or chunk[:8]
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size, head


def looks_like_image(head: bytes) -> bool:
    """Whether the first bytes of a file are those of a JPEG, PNG, BMP or GIF image."""
    return any(head.startswith(magic) for magic in _MAGIC)


def manifest_paths(manifest: Path) -> list[Path]:
    """The image paths a CSV/JSON manifest names (resolved against its folder), in its order."""
    return [path for path, _, _ in _manifest_entries(manifest)]


def scan(config: DatasetConfig, tag_name: Callable[[str], str] = lambda t: t, detection: bool = False) -> Dataset:
    """Every image of the dataset with its tags (or regions) and content hash; raises DatasetError on unusable
    input."""
    root = Path(config.path)
    if detection:
        if not root.exists():
            raise DatasetError(f"dataset not found: {root}")
        from pipeline.dataset.annotations import scan_boxes
        return scan_boxes(config, root, tag_name)
    skipped: list[Skipped] = []
    if config.layout == "folder-per-tag":
        if not root.is_dir():
            raise DatasetError(f"dataset folder not found: {root}")
        entries = list(_folder_entries(root, skipped))
    else:  # a manifest (a container's label files arrive as one, container.py)
        if not root.is_file():
            raise DatasetError(f"dataset manifest not found: {root}")
        entries = list(_manifest_entries(root))
    problems: list[str] = []
    images: list[DatasetImage] = []
    for path, source_tags, origin in entries:
        where = f"{origin}: {path}" if origin else str(path)
        if not path.is_file():
            problems.append(f"{where}: file not found")
            continue
        sha, size, head = file_sha256(path)
        if size == 0:
            problems.append(f"{where}: empty file")
        elif size > MAX_IMAGE_BYTES:
            problems.append(f"{where}: {size / 1e6:.1f} MB, over Custom Vision's 6 MB limit for training images")
        elif not looks_like_image(head):
            problems.append(f"{where}: not a JPEG, PNG, BMP or GIF image")
        else:
            tags = tuple(dict.fromkeys(tag_name(t) for t in source_tags))
            images.append(DatasetImage(path, tags, size, sha, origin))
    if problems:
        raise DatasetError(listing("the dataset has unusable images", problems))
    source = {t for _, tags, _ in entries for t in tags}
    return Dataset(root, _without_copies(images), source, skipped)


def require_images(dataset: Dataset) -> None:
    """An empty dataset says so first, before anything that would follow from it (no tags, ...)."""
    if dataset.images:
        return
    found = ""
    if dataset.skipped:
        found = "; skipped: " + ", ".join(f"{skipped_name(dataset, s)} ({s.reason})" for s in dataset.skipped[:5])
        found += f" and {len(dataset.skipped) - 5} more" if len(dataset.skipped) > 5 else ""
    layout = f"{dataset.root}/TAG/IMAGE" if dataset.root.is_dir() else "the files the manifest lists"
    raise DatasetError(f"no images found in {dataset.root} (looked for {', '.join(sorted(IMAGE_SUFFIXES))} "
                       f"files as {layout}{found})")


def skipped_name(dataset: Dataset, skipped: Skipped) -> str:
    try:
        return skipped.path.relative_to(dataset.root).as_posix()
    except ValueError:
        return str(skipped.path)


def validate(dataset: Dataset, classification_type: str) -> None:
    """Refuse, naming the tag or file, what Custom Vision would refuse at upload or training time."""
    problems = []
    require_images(dataset)
    if dataset.detection:
        from pipeline.dataset.annotations import too_few
        problems = too_few(dataset.counts())
        if problems:
            raise DatasetError(listing("the dataset cannot be trained", problems))
        return
    if classification_type == "Multiclass":
        problems += [f"{image.origin + ': ' if image.origin else ''}{image.path}: {len(image.tags)} tags ({', '.join(image.tags) or 'none'}); a Multiclass "
                     "project takes exactly one tag an image" for image in dataset.images if len(image.tags) != 1]
    counts = dataset.counts()
    for tag, count in counts.items():
        if count < MIN_IMAGES_PER_TAG:
            problems.append(f"tag {tag!r} has {count} image{'s' * (count != 1)}; Custom Vision needs at least "
                            f"{MIN_IMAGES_PER_TAG} per tag: add {MIN_IMAGES_PER_TAG - count} more")
    if len(counts) < MIN_TAGS:
        problems.append(f"{len(counts)} tag(s) ({', '.join(counts) or 'none'}); classification needs at least "
                        f"{MIN_TAGS} tags with {MIN_IMAGES_PER_TAG} images each")
    if problems:
        raise DatasetError(listing("the dataset cannot be trained", problems))


def _folder_entries(root: Path, skipped: list[Skipped]) -> Iterable[tuple[Path, tuple[str, ...], None]]:
    for entry in sorted(p for p in root.iterdir() if not p.name.startswith(".")):
        if not entry.is_dir():
            skipped.append(Skipped(entry, "not in a tag folder (images go in DATASET/TAG/)"))
            continue
        found = 0
        for path in sorted(entry.rglob("*")):
            if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
                continue
            suffix = path.suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                found += 1
                yield path, (entry.name,), None
            elif suffix in OTHER_IMAGE_SUFFIXES:
                skipped.append(Skipped(path, f"unsupported image format {suffix}: Custom Vision takes JPEG, PNG, "
                                             "BMP or GIF (convert it)"))
            else:
                skipped.append(Skipped(path, "not an image"))
        if not found:
            skipped.append(Skipped(entry, "empty tag folder: no images, so no tag"))


def _manifest_entries(manifest: Path) -> Iterable[tuple[Path, tuple[str, ...], str]]:
    base = manifest.parent
    try:
        if manifest.suffix.lower() == ".json":
            for row, line in _json_rows(manifest):
                where = f"{manifest}:{line}"
                if not isinstance(row, dict) or "path" not in row:
                    raise DatasetError(f"{where}: the item has no 'path' (each is {{\"path\": ..., \"tags\": [...]}})")
                tags = row.get("tags", [])
                yield base / row["path"], tuple([tags] if isinstance(tags, str) else tags), where
        elif manifest.suffix.lower() == ".csv":
            with open(manifest, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                columns = set(reader.fieldnames or ())
                if not {"path", "tags"} <= columns:
                    raise DatasetError(f"{manifest}:1: the header must name the columns path,tags "
                                       f"(found {', '.join(sorted(columns)) or 'none'})")
                for row in reader:
                    where = f"{manifest}:{reader.line_num}"
                    if not row["path"]:
                        raise DatasetError(f"{where}: empty path")
                    tags = [t.strip() for t in (row["tags"] or "").replace("|", ";").split(";") if t.strip()]
                    yield base / row["path"], tuple(tags), where
        else:
            raise DatasetError(f"{manifest}: a manifest is a .csv or .json file")
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{manifest}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{manifest}: cannot read the manifest: {exc}") from None


def _json_rows(manifest: Path) -> list[tuple[object, int]]:
    """The manifest's items, each with the line it starts on: a list, or the list under "images"."""
    text, data = jsonlines.load(manifest)
    if isinstance(data, dict) and isinstance(data.get("images"), list):
        return jsonlines.items(text, "images")
    if isinstance(data, list):
        return jsonlines.items(text)
    raise DatasetError(f"{manifest}:1: expected a JSON list of {{path, tags}} (or {{\"images\": [...]}})")


def _without_copies(images: list[DatasetImage]) -> list[DatasetImage]:
    """One entry per content hash; the same bytes under different tags is an error."""
    by_hash: dict[str, list[DatasetImage]] = defaultdict(list)
    for image in images:
        by_hash[image.sha256].append(image)
    conflicts = [f"{', '.join(str(i.path) for i in group)}: the same image under tags "
                 f"{' / '.join(sorted({', '.join(i.tags) for i in group}))}"
                 for group in by_hash.values() if len({i.tags for i in group}) > 1]
    if conflicts:
        raise DatasetError(listing("the dataset has the same image under different tags", conflicts))
    return [group[0] for group in by_hash.values()]


def listing(title: str, problems: list[str]) -> str:
    shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
    return title + ":\n  " + "\n  ".join(shown)
