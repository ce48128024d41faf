"""`cvops diff CONFIG [--from ITERATION|MANIFEST] [--to ITERATION|MANIFEST|working-tree]`: what changed in the
data between two dataset versions (default: the published iteration's, to the working tree's). Reads only;
writes nothing, on the service or on disk."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.config.loader import LoadedConfig
from pipeline.errors import DatasetError
from pipeline.insight import iterations as choosing
from pipeline.insight import manifest as manifests
from pipeline.insight import versions
from pipeline.insight.diff import compare
from pipeline.insight.manifest import DatasetManifest
from pipeline.insight.trained import content_keys, files_by_key, read_dataset, working_tree
from pipeline.sdk.clients import training_client
from pipeline.steps.project import require_project
from pipeline.steps.sync import read_project

WORKING_TREE = ("working-tree", "working tree", "worktree")


def diff(loaded: LoadedConfig, before: str | None, after: str | None) -> dict[str, Any]:
    config = loaded.config
    trainer = training_client(config.service)
    project = require_project(trainer, config.project.name)
    sides = Sides(loaded, trainer, project)
    old, new = sides.read(before, default_iteration=True), sides.read(after, default_iteration=False)
    result = compare(old, new)
    return {"project": {"name": project.name, "id": project.id}, "notes": sides.notes, **result.to_dict()}


class Sides:
    """Reads each side of a diff; the project's image map and the dataset scan are read once, when needed."""

    def __init__(self, loaded: LoadedConfig, trainer: Any, project: Any):
        self.loaded, self.trainer, self.project = loaded, trainer, project
        self.notes: list[str] = []
        self._iterations: list[Any] | None = None
        self._keys: dict[str, str] | None = None
        self._dataset: Any = None
        self._dataset_error: DatasetError | None = None

    def read(self, wanted: str | None, default_iteration: bool) -> DatasetManifest:
        if wanted is None and not default_iteration or wanted is not None and wanted.casefold() in WORKING_TREE:
            return working_tree(self.dataset(required=True), {"name": self.project.name, "id": self.project.id})
        if wanted is not None and (wanted.lower().endswith(".json") or Path(wanted).is_file()):
            found = manifests.read(Path(wanted))
            versions.same_project(found, self.project)
            return found
        if self._iterations is None:
            self._iterations = self.trainer.get_iterations(self.project.id)
        iteration = choosing.choose(self.trainer, self.project, self._iterations, wanted,
                                    self.loaded.config.publish.name)
        if self._keys is None:
            self._keys = content_keys(read_project(self.trainer, self.project.id).images)
        dataset = self.dataset(required=False)
        read = versions.read_iteration(self.trainer, self.project, iteration, self._keys, files_by_key(dataset),
                                       versions.manifests_folder(self.loaded.config))
        self.notes += read.notes
        return read.manifest

    def dataset(self, required: bool) -> Any:
        """The working tree; for naming an iteration's images only, a dataset that cannot be read is a note."""
        if self._dataset is None and self._dataset_error is None:
            try:
                self._dataset = read_dataset(self.loaded)
            except DatasetError as exc:
                self._dataset_error = exc
                if not required:
                    self.notes.append(f"the working tree cannot be read, so images are named by content key: "
                                      f"{str(exc).splitlines()[0]}")
        if required and self._dataset_error is not None:
            raise self._dataset_error
        return self._dataset
