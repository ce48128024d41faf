"""Step 3: upload only the images the project does not have yet, in about one request per 64 images.

What the project has is read from its own image metadata (`image_map`): no local state, any machine. Batches
hold at most 64 images and a byte budget; each batch carries the id -> hash map of the batch before it, and
one `update_image_metadata` at the end writes the map that no batch carried. `OKDuplicate` (the service
already has those bytes) is success and gives the existing image's id: that is how an image whose map entry was
lost is found again, and what makes a retried or interrupted upload safe."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from pipeline.config import UploadConfig
from pipeline.dataset import Dataset, DatasetImage
from pipeline.steps import image_map

PAGE = 256  # images a listing call returns at most
OK_STATUSES = {"OK", "OKDuplicate"}
INPUT_STATUSES = {"ErrorImageFormat", "ErrorImageSize", "ErrorSource", "ErrorNegativeAndRegularTagOnSameImage",
                  "ErrorInvalidRegion", "ErrorRegionLimitExceed"}


@dataclass
class UploadResult:
    uploaded: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (file, status)
    batches: int = 0
    bytes: int = 0
    images: dict[str, Any] = field(default_factory=dict)  # dataset sha256 -> the project image (new or existing)
    metadata_calls: int = 0
    unrecorded: int = 0  # images whose map entry found no room (found again by the next run)


def project_images(trainer: Any, project_id: str) -> list[Any]:
    """Every image of the project (tagged and untagged), 256 a call."""
    images: list[Any] = []
    while True:
        page = trainer.get_images(project_id, take=PAGE, skip=len(images)) or []
        images.extend(page)
        if len(page) < PAGE:
            return images


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


def upload(trainer: Any, project_id: str, dataset: Dataset, images: list[DatasetImage], tag_ids: dict[str, str],
           config: UploadConfig, metadata: dict[str, dict[str, str]], bar: Any = None,
           regions: Mapping[str, list[dict[str, Any]]] | None = None) -> UploadResult:
    """Send `images` in batches, each carrying the previous batch's map; failures are listed by file name.

    `metadata` (image id -> metadata pairs of every image in the project) is kept up to date: the last map is
    written where there is room. An object detection image's regions (its own, or `regions`: image sha256 ->
    [{tag, left, top, width, height}], an export's) are sent instead of image tags."""
    from azure.cognitiveservices.vision.customvision.training.models import ImageFileCreateBatch, \
        ImageFileCreateEntry, Region

    def entry(name: str, image: DatasetImage) -> Any:
        if image.regions is not None:  # an object detection dataset's boxes
            boxes = [Region(tag_id=tag_ids[r.tag], left=r.left, top=r.top, width=r.width, height=r.height)
                     for r in image.regions]
        elif regions is not None:
            boxes = [Region(tag_id=tag_ids[r["tag"]], left=r["left"], top=r["top"], width=r["width"],
                            height=r["height"]) for r in regions.get(image.sha256, [])]
        else:
            return ImageFileCreateEntry(name=name, contents=Path(image.path).read_bytes(),
                                        tag_ids=[tag_ids[t] for t in image.tags])
        return ImageFileCreateEntry(name=name, contents=Path(image.path).read_bytes(), regions=boxes or None)

    result = UploadResult()
    pending: list[image_map.Entry] = []  # entries no image of the project carries yet
    for batch in batches(images, config):
        names = [relative(dataset, image) for image in batch]
        entries = [entry(name, image) for name, image in zip(names, batch)]
        carried = image_map.pack(pending, image_map.UPLOAD_SLOT) if pending else None
        summary = trainer.create_images_from_files(project_id, ImageFileCreateBatch(images=entries, metadata=carried))
        result.batches += 1
        result.bytes += sum(image.size for image in batch)
        created_any, learned = False, []
        for name, image, created in zip(names, batch, _in_order(names, summary)):
            status = getattr(created, "status", None) or "NoResult"
            if status not in OK_STATUSES:
                result.failures.append((name, status))
                continue
            (result.duplicates if status == "OKDuplicate" else result.uploaded).append(name)
            project_image = getattr(created, "image", None)
            image_id = getattr(project_image, "id", None)
            if not image_id:
                continue
            result.images[image.sha256] = project_image
            learned.append((image_id, image_map.hash_key(image.sha256)))
            # Only an image the batch created is sure to take the batch metadata.
            created_any |= status == "OK"
            shown = getattr(project_image, "metadata", None)
            metadata[image_id] = dict(shown) if shown is not None else dict(carried or {}) if status == "OK" else {}
        if bar is not None:
            bar.advance(len(batch))  # one step a batch: a CI log gets a line a batch
        if created_any:
            pending = []
        pending += learned
        while len(pending) > image_map.CAPACITY:  # batches that created nothing (all found again): write now
            _record(trainer, project_id, pending[:image_map.CAPACITY], metadata, result)
            pending = pending[image_map.CAPACITY:]
    _record(trainer, project_id, pending, metadata, result)
    return result


def _record(trainer: Any, project_id: str, entries: list[image_map.Entry], metadata: dict[str, dict[str, str]],
            result: UploadResult) -> None:
    if not entries:
        return
    recorded = image_map.record(trainer, project_id, entries, metadata)
    result.metadata_calls += recorded.calls
    result.unrecorded += len(recorded.unrecorded)


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
