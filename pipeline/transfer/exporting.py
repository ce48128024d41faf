"""A project into a folder (folder.py's format): every image's original bytes, hashed as they land, and the
project's record. A rerun lists the project again and downloads only what the folder lacks: files the journal
names are hashed again and kept when they match; an image whose tags changed is moved, not fetched again; an
image gone from the project is removed. Links that fail (a signed link can expire during a long export) are
listed anew and tried once more."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError
from pipeline.transfer import remote
from pipeline.transfer.endpoints import Endpoint
from pipeline.transfer.download import DownloadFailed, fetch_many
from pipeline.dataset.sources import write_atomically
from pipeline.transfer.folder import ExportedImage, ProjectFolder, extension, folder_names

WORKERS = 8
BY_IDS = 256  # image ids per get_images_by_ids call


class ExportIncomplete(PipelineError):
    """Some images could not be downloaded; what was downloaded is kept and a rerun resumes."""


@dataclass
class ExportResult:
    folder: Path
    project: dict[str, Any]
    images: list[ExportedImage] = field(default_factory=list)
    downloaded: int = 0
    kept: int = 0
    moved: int = 0
    removed: int = 0
    downloaded_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        tags: dict[str, int] = {}
        for image in self.images:
            for tag in image.tags:
                tags[tag] = tags.get(tag, 0) + 1
        return {"folder": str(self.folder), "project": self.project, "images": len(self.images),
                "untagged": sum(1 for image in self.images if not image.tags), "tags": dict(sorted(tags.items())),
                "regions": sum(len(image.regions) for image in self.images),
                "downloaded": self.downloaded, "kept": self.kept, "moved": self.moved, "removed": self.removed,
                "downloaded_bytes": self.downloaded_bytes, "bytes": sum(image.size for image in self.images)}


def export_project(trainer: Any, project_ref: str, folder: Path, source: Endpoint, ui: Any,
                   workers: int = WORKERS) -> ExportResult:
    project = remote.find(trainer, project_ref, source.label)
    images = remote.all_images(trainer, project.id)
    description = remote.describe(trainer, project, source.service.training_endpoint, images)
    settings = description["project"]
    out = ProjectFolder(folder)
    known = out.start_journal({"endpoint": description["source"]["endpoint"], "project_id": project.id,
                               "project_name": project.name})
    result = ExportResult(out.root, {"name": project.name, "id": project.id, **{
        k: settings[k] for k in ("classification_type", "domain", "project_type")}})
    ui.info(f"project {project.name!r} ({project.id}): {len(images)} images, {len(description['tags'])} tags, "
            f"{len(description['iterations'])} iterations")
    folders = folder_names(sorted({t["name"] for t in description["tags"]} |
                                  {t for image in images for t in remote.tag_names(image)}))

    kind = "ObjectDetection" if settings["project_type"] == "ObjectDetection" else settings["classification_type"]

    def place(image: Any, ext: str) -> str:
        return out.relative_path(kind, image.id, remote.tag_names(image), ext, folders)

    entries: dict[str, ExportedImage] = {}
    to_fetch = []
    for image in images:
        entry = known.get(image.id)
        if entry is None or not out.holds(entry):
            to_fetch.append(image)
            continue
        wanted = place(image, Path(entry.path).suffix)
        if entry.path != wanted or entry.tags != remote.tag_names(image) or entry.regions != remote.regions_of(image):
            if entry.path != wanted:
                (out.root / wanted).parent.mkdir(parents=True, exist_ok=True)
                os.replace(out.root / entry.path, out.root / wanted)
                result.moved += 1
            entry = ExportedImage(image.id, wanted, remote.tag_names(image), entry.sha256, entry.size,
                                  remote.regions_of(image))
            out.record(entry)
        entries[image.id] = entry
        result.kept += 1
    if to_fetch:
        ui.info(f"downloading {len(to_fetch)} image(s) ({result.kept} already here)")
    failures = _download(trainer, project.id, to_fetch, out, place, entries, result, ui, workers)
    current = {image.id for image in images}
    for image_id, entry in known.items():
        if image_id not in current:  # gone from the project since the last export
            path = out.root / entry.path
            if path.is_file() and path.resolve().is_relative_to(out.root.resolve()):
                path.unlink()
            out.record_removed(image_id)
            result.removed += 1
    if failures:
        listing = "; ".join(f"image {image_id}: {reason}" for image_id, reason in failures[:10])
        raise ExportIncomplete(f"{len(failures)} of {len(images)} image(s) could not be downloaded ({listing}); "
                               f"the {len(entries)} downloaded are kept: run the export again to resume")
    result.images = [entries[image.id] for image in images]
    description["images"]["bytes"] = sum(image.size for image in result.images)
    out.write_manifest(result.images)
    out.write_project(description)
    return result


def _download(trainer: Any, project_id: str, images: list[Any], out: ProjectFolder, place: Any,
              entries: dict[str, ExportedImage], result: ExportResult, ui: Any, workers: int) -> list[tuple[str, str]]:
    """Fetch `images` into the folder, recording each; failed links are listed anew and tried once more."""
    failed: dict[str, str] = {}
    with ui.bar("downloading images", len(images)) as bar:
        for attempt in range(2):
            if attempt == 1:
                if not failed:
                    break
                images = _fresh_links(trainer, project_id, list(failed))
                failed = {}
            for image, data in fetch_many(images, workers):
                if isinstance(data, DownloadFailed):
                    failed[image.id] = str(data)
                    continue
                entry = ExportedImage(image.id, place(image, extension(data)), remote.tag_names(image),
                                      hashlib.sha256(data).hexdigest(), len(data), remote.regions_of(image))
                write_atomically(out.root / entry.path, data)
                out.record(entry)
                entries[image.id] = entry
                result.downloaded += 1
                result.downloaded_bytes += len(data)
                bar.advance(1)
                if result.downloaded % 250 == 0:
                    ui.info(f"downloaded {result.downloaded}/{len(images)}")
    return sorted(failed.items())


def _fresh_links(trainer: Any, project_id: str, image_ids: list[str]) -> list[Any]:
    fresh = []
    for start in range(0, len(image_ids), BY_IDS):
        fresh += trainer.get_images_by_ids(project_id, image_ids=image_ids[start:start + BY_IDS]) or []
    return fresh
