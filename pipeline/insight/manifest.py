"""A dataset version: the images an iteration trained on, each by content, with its tags, and a short id that
is a hash of exactly that.

    {"format": "cvops-dataset/1", "version": "3f9a0c1d2e4b", "kind": "classification",
     "project": {"name": ..., "id": ...}, "iteration": {"name": ..., "id": ...}, "created": ...,
     "images": [{"key": "Ab3...", "sha256": "...", "path": "apple/apple1.jpg", "tags": ["apple"]}, ...]}

The version is the first 12 hex digits of the SHA-256 of the canonical text: the format line, then one line a
image, sorted: its content key, a tab, its tags sorted and joined by `;` (and, for object detection, a tab and its
regions). The content key is the one cvops keeps in the project's image metadata (steps/image_map.py: 66 bits of
the file's SHA-256), so the version of an iteration can be computed again from what the service lists for it,
on any machine, and compared with the one recorded. Paths, sizes and full hashes are kept for people and for
`cvops diff`, but are not part of the version: renaming a file changes no training.

`regions` (object detection) slots in as an optional field of each image ({tag, left, top, width, height},
normalised); an image with regions adds them to its canonical line, so a moved box is a new version. The
`format` field names the layout; a reader refuses a format it does not know instead of guessing."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from pipeline.dataset.regions import Region  # an object detection box; its canonical() is the manifest's
from pipeline.errors import DatasetError

FORMAT = "cvops-dataset/1"
VERSION_CHARS = 12
UNRECORDED_PREFIX = "image:"  # the key of a project image cvops has no record of: its image id


@dataclass(frozen=True)
class ManifestImage:
    key: str  # content key (image_map.hash_key of its SHA-256), or "image:ID" for an image cvops has no record of
    tags: tuple[str, ...]
    sha256: str | None = None
    path: str | None = None  # relative to the dataset folder; None: not in the dataset (only in the project)
    regions: tuple[Region, ...] = ()

    def canonical(self) -> str:
        line = f"{self.key}\t{';'.join(sorted(self.tags))}"
        if self.regions:
            line += "\t" + ";".join(sorted(r.canonical() for r in self.regions))
        return line

    def describe(self) -> str:
        """The name a person knows it by: its path, else its key."""
        if self.path:
            return self.path
        if self.key.startswith(UNRECORDED_PREFIX):
            return f"image {self.key[len(UNRECORDED_PREFIX):]} (no cvops record)"
        return f"image with content key {self.key} (not in the dataset)"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"key": self.key, "sha256": self.sha256, "path": self.path, "tags": list(self.tags)}
        if self.regions:
            data["regions"] = [{"tag": r.tag, "left": r.left, "top": r.top, "width": r.width, "height": r.height}
                               for r in self.regions]
        return data


def version_of(images: Iterable[ManifestImage]) -> str:
    canonical = "\n".join([FORMAT, *sorted(image.canonical() for image in images)])
    return hashlib.sha256(canonical.encode()).hexdigest()[:VERSION_CHARS]


@dataclass
class DatasetManifest:
    images: list[ManifestImage]
    kind: str = "classification"
    project: dict[str, str] | None = None  # {name, id}
    iteration: dict[str, str] | None = None  # {name, id}: the iteration it was recorded for
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    source: str = ""  # where it came from, for messages: a file, "the service's listing of Iteration 2", ...

    @property
    def version(self) -> str:
        return version_of(self.images)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for image in self.images:
            for tag in image.tags:
                counts[tag] = counts.get(tag, 0) + 1
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": self.version, "kind": self.kind, "project": self.project,
                "iteration": self.iteration, "created": self.created, "images": [
                    i.to_dict() for i in sorted(self.images, key=lambda i: (i.path or "\uffff", i.key))]}


def manifest_path(folder: Path, version: str) -> Path:
    return Path(folder) / f"{version}.json"


def write(manifest: DatasetManifest, folder: Path) -> Path:
    """Keep the manifest as FOLDER/VERSION.json. Content-addressed: a file already there for the version is
    kept as it is (the first iteration that trained on it), once it is checked to be that version."""
    path = manifest_path(folder, manifest.version)
    if path.is_file():
        try:
            read(path)
            return path
        except DatasetError:
            pass  # a broken or edited copy under the version's name: written again from what is known
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest.to_dict(), indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def read(path: Path) -> DatasetManifest:
    """A manifest file, checked: its images must hash to the version it states (and its name says)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such dataset manifest") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not a cvops dataset manifest ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise DatasetError(f"{path}: not a cvops dataset manifest (format {found!r}; this cvops reads {FORMAT!r})")
    try:
        images = [_image(item) for item in data["images"]]
        stated = str(data["version"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{path}: a dataset manifest with a malformed entry ({exc!r}); it was edited by hand: "
                           "restore it from the run's artifacts, or delete it (cvops then reads the iteration's "
                           "images from the service)") from None
    manifest = DatasetManifest(images, str(data.get("kind") or "classification"), data.get("project"),
                               data.get("iteration"), str(data.get("created") or ""), str(path))
    actual = manifest.version
    named = Path(path).stem
    if actual != stated or (len(named) == VERSION_CHARS and named != stated):
        raise DatasetError(f"{path}: says version {stated} but its images hash to {actual}: it was edited by hand. "
                           "A dataset version never changes: restore the file from the run's artifacts, or delete "
                           "it (cvops then reads the iteration's images from the service)")
    return manifest


def _image(item: dict[str, Any]) -> ManifestImage:
    tags = item["tags"]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags) or not isinstance(item["key"], str):
        raise ValueError(f"tags must be a list of names and key a string in {item!r}")
    regions = tuple(Region(str(r["tag"]), float(r["left"]), float(r["top"]), float(r["width"]), float(r["height"]))
                    for r in item.get("regions") or ())
    return ManifestImage(item["key"], tuple(tags), item.get("sha256"), item.get("path"), regions)
