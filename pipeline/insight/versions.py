"""The dataset version of an iteration: recorded by `run` (the version in the project's description, the
manifest in a folder beside the run report), and read back by `status` and `diff`.

Reading an iteration's version: its manifest file when the folder has it (checked: a hand-edited file is
refused), else what the service lists for the iteration now. The listing misses images deleted from the
project since the training; when its version is not the recorded one, or nothing was recorded (an iteration
trained before cvops kept versions, or trained in the portal), the comparison says so and goes on with what
can be compared."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from pipeline.config import PipelineConfig
from pipeline.errors import DatasetError
from pipeline.insight import manifest as manifests
from pipeline.insight.manifest import DatasetManifest
from pipeline.insight.recorded import record_version, version_of_iteration
from pipeline.insight.trained import DatasetFile, of_iteration
from pipeline.sdk.errors import CALL_FAILED

FOLDER = "datasets"


def manifests_folder(config: PipelineConfig) -> Path | None:
    """`report.datasets`, else a `datasets` folder beside the JSON report (else the Markdown one); None: none."""
    report = config.report
    if report.datasets is not None:
        return Path(report.datasets)
    beside = report.json_path or report.markdown_path
    return Path(beside).parent / FOLDER if beside else None


@dataclass
class IterationVersion:
    manifest: DatasetManifest
    recorded: str | None  # the version the project's description records for the iteration
    notes: list[str] = field(default_factory=list)


def read_iteration(trainer: Any, project: Any, iteration: Any, keys: Mapping[str, str],
                   files: Mapping[str, DatasetFile], folder: Path | None) -> IterationVersion:
    if iteration.status != "Completed":
        raise DatasetError(f"{iteration.name} is {iteration.status}: an iteration has a dataset version once it "
                           "has trained")
    recorded = version_of_iteration(project, iteration.id)
    if recorded and folder is not None and manifests.manifest_path(folder, recorded).is_file():
        found = manifests.read(manifests.manifest_path(folder, recorded))
        same_project(found, project)
        found.iteration = found.iteration or {"name": iteration.name, "id": iteration.id}
        found.source = f"{iteration.name}'s manifest {manifests.manifest_path(folder, recorded)}"
        return IterationVersion(found, recorded)
    listed = of_iteration(trainer, project, iteration, keys, files)
    notes = []
    if recorded is None:
        notes.append(f"{iteration.name} has no recorded dataset version (trained before cvops recorded them, or "
                     "outside cvops, e.g. in the portal): compared as the service lists its images now")
    elif listed.version != recorded:
        where = f"not in {folder}" if folder is not None else "not kept here (no report folder in the config)"
        notes.append(f"{iteration.name} trained on dataset version {recorded}, whose manifest is {where}; the "
                     f"service lists {len(listed.images)} of its images now (version {listed.version}): images "
                     "deleted from the project since are missing from this comparison")
    return IterationVersion(listed, recorded, notes)


def same_project(found: DatasetManifest, project: Any) -> None:
    """A manifest of another project is refused: versions compare within one project."""
    theirs = (found.project or {}).get("id")
    if theirs and theirs != project.id:
        raise DatasetError(f"{found.source}: dataset version {found.version} is of project "
                           f"{found.project.get('name')!r} ({theirs}), not of {project.name!r} ({project.id}): "
                           "diff compares the dataset versions of one project")


def record_trained(trainer: Any, project: Any, iteration: Any, keys: Mapping[str, str],
                   files: Mapping[str, DatasetFile], folder: Path | None,
                   live: set[str]) -> tuple[dict[str, Any], list[str]]:
    """After training: the iteration's version (listed from the service unless it is recorded and kept here
    already), its manifest written into `folder`, and the version recorded in the project's description.
    A version recorded already is never replaced (the listing misses images deleted since the training).
    `live`: the project's iterations as the run last listed them. Returns (what the report says, warnings)."""
    recorded = version_of_iteration(project, iteration.id)
    kept = manifests.manifest_path(folder, recorded) if recorded and folder is not None else None
    if recorded and (kept is None or kept.is_file()):
        return {"version": recorded, "recorded": True, "manifest": str(kept) if kept else None}, []
    manifest = of_iteration(trainer, project, iteration, keys, files)
    if recorded and manifest.version != recorded:  # images deleted since: the listing is not what it trained on
        return {"version": recorded, "recorded": True, "manifest": None}, []
    path = manifests.write(manifest, folder) if folder is not None else None
    report = {"version": manifest.version, "recorded": True, "manifest": str(path) if path else None,
              "images": len(manifest.images)}
    if recorded:
        return report, []
    try:
        record_version(trainer, project.id, iteration.id, manifest.version, live | {iteration.id})
    except CALL_FAILED as exc:  # the model is fine; only the record is missing: say so, carry on
        report["recorded"] = False
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return report, [f"the dataset version {manifest.version} of {iteration.name} could not be recorded in the "
                        f"project's description: {reason}"]
    return report, []
