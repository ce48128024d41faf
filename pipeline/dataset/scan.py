"""The labelled images on disk: scan a folder-per-tag tree or a CSV/JSON manifest, hash every image, and
refuse a dataset Custom Vision would refuse (before anything is uploaded)."""
from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from pipeline.config import DatasetConfig
from pipeline.errors import DatasetError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif"}
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


@dataclass
class Dataset:
    root: Path
    images: list[DatasetImage]
    source_tags: set[str]  # folder or manifest tag names, before `tag_names`

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
    return [path for path, _ in _manifest_entries(manifest)]


def scan(config: DatasetConfig, tag_name: Callable[[str], str] = lambda t: t) -> Dataset:
    """Every image of the dataset with its tags and content hash; raises DatasetError on unusable input."""
    root = Path(config.path)
    if config.layout == "folder-per-tag":
        if not root.is_dir():
            raise DatasetError(f"dataset folder not found: {root}")
        entries = list(_folder_entries(root))
    else:  # a manifest (a container's label files arrive as one, container.py)
        if not root.is_file():
            raise DatasetError(f"dataset manifest not found: {root}")
        entries = list(_manifest_entries(root))
    problems: list[str] = []
    images: list[DatasetImage] = []
    for path, source_tags in entries:
        if not path.is_file():
            problems.append(f"{path}: file not found")
            continue
        sha, size, head = file_sha256(path)
        if size == 0:
            problems.append(f"{path}: empty file")
        elif size > MAX_IMAGE_BYTES:
            problems.append(f"{path}: {size / 1e6:.1f} MB, over Custom Vision's 6 MB limit for training images")
        elif not looks_like_image(head):
            problems.append(f"{path}: not a JPEG, PNG, BMP or GIF image")
        else:
            tags = tuple(dict.fromkeys(tag_name(t) for t in source_tags))
            images.append(DatasetImage(path, tags, size, sha))
    if problems:
        raise DatasetError(listing("the dataset has unusable images", problems))
    source = {t for _, tags in entries for t in tags}
    return Dataset(root, _without_copies(images), source)


def validate(dataset: Dataset, classification_type: str) -> None:
    """Refuse, naming the tag or file, what Custom Vision would refuse at upload or training time."""
    problems = []
    if not dataset.images:
        raise DatasetError(f"no images found in {dataset.root} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    if classification_type == "Multiclass":
        problems += [f"{image.path}: {len(image.tags)} tags ({', '.join(image.tags) or 'none'}); a Multiclass "
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


def _folder_entries(root: Path) -> Iterable[tuple[Path, tuple[str, ...]]]:
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
                yield path, (folder.name,)


def _manifest_entries(manifest: Path) -> Iterable[tuple[Path, tuple[str, ...]]]:
    base = manifest.parent
    try:
        if manifest.suffix.lower() == ".json":
            rows = json.loads(manifest.read_text(encoding="utf-8"))
            rows = rows.get("images", rows) if isinstance(rows, dict) else rows
            if not isinstance(rows, list):
                raise DatasetError(f"{manifest}: expected a JSON list of {{path, tags}}")
            for index, row in enumerate(rows):
                if not isinstance(row, dict) or "path" not in row:
                    raise DatasetError(f"{manifest}: item {index} has no 'path'")
                tags = row.get("tags", [])
                yield base / row["path"], tuple([tags] if isinstance(tags, str) else tags)
        elif manifest.suffix.lower() == ".csv":
            with open(manifest, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                columns = set(reader.fieldnames or ())
                if not {"path", "tags"} <= columns:
                    raise DatasetError(f"{manifest}: the header must name the columns path,tags "
                                       f"(found {', '.join(sorted(columns)) or 'none'})")
                for line, row in enumerate(reader, start=2):
                    if not row["path"]:
                        raise DatasetError(f"{manifest}:{line}: empty path")
                    tags = [t.strip() for t in (row["tags"] or "").replace("|", ";").split(";") if t.strip()]
                    yield base / row["path"], tuple(tags)
        else:
            raise DatasetError(f"{manifest}: a manifest is a .csv or .json file")
    except (json.JSONDecodeError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{manifest}: cannot read the manifest: {exc}") from None


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
