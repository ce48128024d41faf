"""Dataset versions from what there is: the working tree (the dataset as scanned), or an iteration as the
service lists it (its images as it trained on them, each known by the content key of the image map)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from pipeline.dataset import Dataset, DatasetImage
from pipeline.insight.manifest import UNRECORDED_PREFIX, DatasetManifest, ManifestImage
from pipeline.steps.image_map import hash_key
from pipeline.steps.upload import relative

PAGE = 256  # images a listing call


@dataclass(frozen=True)
class DatasetFile:
    path: str
    sha256: str


def files_by_key(dataset: Dataset | None) -> dict[str, DatasetFile]:
    """Content key -> the dataset file with that content (its path relative to the dataset folder)."""
    if dataset is None:
        return {}
    return {hash_key(image.sha256): DatasetFile(relative(dataset, image), image.sha256) for image in dataset.images}


def working_tree(dataset: Dataset, project: Mapping[str, str] | None = None) -> DatasetManifest:
    """The dataset as it is on disk now."""
    return DatasetManifest([_from_file(dataset, image) for image in dataset.images], project=dict(project or {}) or None,
                           source=f"the working tree ({dataset.root})")


def _from_file(dataset: Dataset, image: DatasetImage) -> ManifestImage:
    return ManifestImage(hash_key(image.sha256), tuple(image.tags), image.sha256, relative(dataset, image))


def content_keys(project_images: Iterable[Any]) -> dict[str, str]:
    """Image id -> content key, for the project's images (steps/sync.ProjectImage) that cvops has a record of."""
    return {image.id: image.hash_key for image in project_images if image.hash_key}


def iteration_images(trainer: Any, project_id: str, iteration_id: str) -> list[Any]:
    """The images an iteration trained on, with their tags as it trained on them (256 a call)."""
    images: list[Any] = []
    while True:
        page = trainer.get_tagged_images(project_id, iteration_id=iteration_id, take=PAGE, skip=len(images)) or []
        images.extend(page)
        if len(page) < PAGE:
            return images


def of_iteration(trainer: Any, project: Any, iteration: Any, keys: Mapping[str, str],
                 files: Mapping[str, DatasetFile]) -> DatasetManifest:
    """The iteration's dataset version as the service lists it: every image it trained on (that the project still
    has), by content key, named by the dataset file with that content where there is one."""
    images = []
    for listed in iteration_images(trainer, project.id, iteration.id):
        key = keys.get(listed.id) or f"{UNRECORDED_PREFIX}{listed.id}"
        found = files.get(key)
        images.append(ManifestImage(key, tuple(sorted(t.tag_name for t in (listed.tags or []))),
                                    found.sha256 if found else None, found.path if found else None))
    return DatasetManifest(images, project={"name": project.name, "id": project.id},
                           iteration={"name": iteration.name, "id": iteration.id},
                           source=f"the service's listing of {iteration.name}")


def read_dataset(loaded: Any) -> Dataset:
    """The dataset the config names, scanned (every file hashed) but not judged: a diff or a listing of suspects
    reads a dataset that training would refuse too. Errors name the config's line."""
    from pipeline.dataset import local_root, require_images, scan
    from pipeline.errors import ConfigError, DatasetError

    config, source = loaded.config, loaded.source
    where = ("dataset", "url" if config.dataset.url else "container" if config.dataset.container else "path")
    try:
        root = local_root(config.dataset)
        dataset = scan(config.dataset.model_copy(update={"path": root}), config.tag_name)
        require_images(dataset)
    except (DatasetError, ConfigError) as exc:
        raise DatasetError(f"{source.file}:{source.line(where)}: {exc}") from None
    return dataset
