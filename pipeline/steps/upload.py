"""Step 3: upload only the images the project does not have yet.

Each uploaded image carries its content hash as image metadata (`cvops.sha256`), so a rerun on any machine
sees what is already there. Batches hold at most 64 images and a byte budget. `OKDuplicate` (the service
already has those bytes) is success: it also makes a retried or interrupted upload safe."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from pipeline.config import UploadConfig
from pipeline.dataset import Dataset, DatasetImage

HASH_KEY = "cvops.sha256"
FILE_KEY = "cvops.file"
PAGE = 256
OK_STATUSES = {"OK", "OKDuplicate"}
INPUT_STATUSES = {"ErrorImageFormat", "ErrorImageSize", "ErrorSource", "ErrorNegativeAndRegularTagOnSameImage"}


@dataclass
class UploadPlan:
    to_upload: list[DatasetImage]
    skipped: list[DatasetImage]
    retag: list[str] = field(default_factory=list)  # files already uploaded under other tags (left alone)
    project_only: int = 0  # images in the project that the dataset does not have (left alone)

    @property
    def bytes(self) -> int:
        return sum(image.size for image in self.to_upload)


@dataclass
class UploadResult:
    uploaded: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (file, status)
    batches: int = 0
    bytes: int = 0


def project_images(trainer: Any, project_id: str) -> list[Any]:
    """Every image of the project (tagged and untagged), page by page."""
    images: list[Any] = []
    for operation in (trainer.get_tagged_images, trainer.get_untagged_images):
        skip = 0
        while True:
            page = operation(project_id, take=PAGE, skip=skip) or []
            images.extend(page)
            if len(page) < PAGE:
                break
            skip += PAGE
    return images


def plan_upload(dataset: Dataset, images: list[Any]) -> UploadPlan:
    """Which dataset images the project lacks, by content hash."""
    by_hash = {}
    for image in images:
        sha = (image.metadata or {}).get(HASH_KEY)
        if sha:
            by_hash[sha] = image
    to_upload, skipped, retag = [], [], []
    for item in dataset.images:
        there = by_hash.get(item.sha256)
        if there is None:
            to_upload.append(item)
            continue
        skipped.append(item)
        tags_there = sorted(t.tag_name for t in (there.tags or []) if t.tag_name)
        if tags_there != sorted(item.tags):
            retag.append(f"{relative(dataset, item)} (tags here: {', '.join(item.tags)}; in the project: "
                         f"{', '.join(tags_there) or 'none'})")
    wanted = {item.sha256 for item in dataset.images}
    project_only = sum(1 for image in images if (image.metadata or {}).get(HASH_KEY) not in wanted)
    return UploadPlan(to_upload, skipped, retag, project_only)


def batches(images: list[DatasetImage], config: UploadConfig) -> Iterator[list[DatasetImage]]:
    """Consecutive batches of at most `batch_images` images and `batch_megabytes` (at least one image)."""
    budget = int(config.batch_megabytes * 1024 * 1024)
    batch: list[DatasetImage] = []
    size = 0
    for image in images:
        if batch and (len(batch) >= config.batch_images or size + image.size > budget):
            yield batch
            batch, size = [], 0
        batch.append(image)
        size += image.size
    if batch:
        yield batch


def upload(trainer: Any, project_id: str, dataset: Dataset, images: list[DatasetImage],
           tag_ids: dict[str, str], config: UploadConfig, bar: Any = None) -> UploadResult:
    """Send `images` in batches and record each image's hash on it; failures are listed by file name."""
    from azure.cognitiveservices.vision.customvision.training.models import ImageFileCreateBatch, \
        ImageFileCreateEntry

    result = UploadResult()
    for batch in batches(images, config):
        names = [relative(dataset, image) for image in batch]
        entries = [ImageFileCreateEntry(name=name, contents=Path(image.path).read_bytes(),
                                        tag_ids=[tag_ids[t] for t in image.tags])
                   for name, image in zip(names, batch)]
        summary = trainer.create_images_from_files(project_id, ImageFileCreateBatch(images=entries))
        result.batches += 1
        result.bytes += sum(image.size for image in batch)
        for name, image, created in zip(names, batch, _in_order(names, summary)):
            status = getattr(created, "status", None) or "NoResult"
            if status not in OK_STATUSES:
                result.failures.append((name, status))
                continue
            (result.duplicates if status == "OKDuplicate" else result.uploaded).append(name)
            image_id = getattr(getattr(created, "image", None), "id", None)
            if image_id:
                trainer.update_image_metadata(project_id, [image_id], {HASH_KEY: image.sha256, FILE_KEY: name[-256:]})
        if bar is not None:
            bar.advance(len(batch))  # one step a batch: a CI log gets a line a batch
    return result


def _in_order(names: list[str], summary: Any) -> list[Any]:
    """The summary's results in the order of `names` (matched by source name when the service echoes it)."""
    results = list(getattr(summary, "images", None) or [])
    by_name = {r.source_url: r for r in results if getattr(r, "source_url", None)}
    if len(by_name) == len(names) and set(by_name) == set(names):
        return [by_name[name] for name in names]
    return results + [None] * (len(names) - len(results))


def relative(dataset: Dataset, image: DatasetImage) -> str:
    """The image's path as the report names it: relative to the dataset folder where possible."""
    base = dataset.root if dataset.root.is_dir() else dataset.root.parent
    try:
        return Path(image.path).relative_to(base).as_posix()
    except ValueError:
        return str(image.path)


def input_problem(failures: list[tuple[str, str]]) -> bool:
    """True when every failure is a problem of the image itself (bad input, exit 2)."""
    return bool(failures) and all(status in INPUT_STATUSES for _, status in failures)
