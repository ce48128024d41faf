"""A project folder into a project on the target: the folder is checked whole first (every file the manifest
names is there with its hash; nothing is sent otherwise), the project is found or created with its domain by
name, the tags are created with their descriptions and types, and the images go through the pipeline's own
upload step (steps/upload.py), so an import is incremental exactly as `cvops run` is: a rerun sends nothing.

An existing project is used when its tags are among the export's (an import that was interrupted left it so);
one with other tags is refused unless `merge`, and one of the other classification type always."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.config import DatasetConfig, ProjectConfig, UploadConfig
from pipeline.dataset import Dataset, scan
from pipeline.dataset.scan import listing
from pipeline.errors import ConfigError, DatasetError
from pipeline.insight.recorded import without_versions
from pipeline.steps.hold import without_holds
from pipeline.sdk.errors import TAG_NAME_TAKEN, HttpOperationError, error_code
from pipeline.steps.project import ensure_project, find_project
from pipeline.steps.tags import existing_tags
from pipeline.steps import sync
from pipeline.steps.upload import input_problem, relative, upload
from pipeline.transfer.folder import ExportedImage, ProjectFolder


class TargetRefused(DatasetError):
    """The target project cannot take this export as it is (exit 2; nothing was changed)."""


@dataclass
class ExportedFolder:
    description: dict[str, Any]
    images: list[ExportedImage]
    dataset: Dataset

    @property
    def tags(self) -> list[dict[str, Any]]:
        """The export's tags; a tag an image names but the record lacks is a Regular tag."""
        listed = {t["name"]: t for t in self.description.get("tags", [])}
        for image in self.images:
            for name in image.tags:
                listed.setdefault(name, {"name": name, "description": "", "type": "Regular"})
        return [listed[name] for name in sorted(listed)]


@dataclass
class ImportResult:
    project: dict[str, Any]
    created: bool
    tags_created: list[str] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    tags_differ: list[str] = field(default_factory=list)

    @property
    def input_problem(self) -> bool:
        return input_problem(self.failures)

    def to_dict(self) -> dict[str, Any]:
        return {"project": self.project, "created": self.created, "tags_created": self.tags_created,
                "uploaded": len(self.uploaded), "already_there": len(self.duplicates), "unchanged": self.skipped,
                "failures": [{"file": name, "status": status} for name, status in self.failures],
                "tags_differ": self.tags_differ}


def read_folder(folder: Any) -> ExportedFolder:
    """The export, checked: the manifest's files exist, are images, and still have the hashes it records."""
    source = ProjectFolder(folder)
    description = source.read_project()
    images = source.read_manifest()
    missing = [f"{source.root / image.path}: file not found (named in {source.manifest_path.name})"
               for image in images if not (source.root / image.path).is_file()]
    if missing:
        raise DatasetError(listing("the manifest names images that are not in the folder (export again to fetch "
                                   "them, or remove their entries)", missing))
    dataset = scan(DatasetConfig(path=source.manifest_path, layout="manifest"))
    hashes = {image.path.resolve(): image.sha256 for image in dataset.images}
    changed = [f"{image.path}: its SHA-256 is not the one the manifest records (changed since the export?)"
               for image in images
               if image.sha256 and hashes.get((source.root / image.path).resolve(), image.sha256) != image.sha256]
    if changed:
        raise DatasetError(listing("images in the folder differ from the export", changed))
    return ExportedFolder(description, images, dataset)


def import_folder(trainer: Any, export: ExportedFolder, where: str, ui: Any, name: str | None = None,
                  domain: str | None = None, merge: bool = False, config: UploadConfig | None = None) -> ImportResult:
    settings = export.description["project"]
    wanted = ProjectConfig(name=name or settings["name"], description=without_holds(without_versions(settings.get("description"))),
                           domain=domain or settings.get("domain") or "General",
                           classification_type=settings.get("classification_type") or "Multiclass")
    existing = find_project(trainer, wanted.name)
    if existing is not None:
        _check_existing(trainer, existing, wanted, export, where, merge)
        project, created = existing, False
    else:
        try:
            project, created, _ = ensure_project(trainer, wanted)
        except ConfigError as exc:
            raise ConfigError(f"{exc.detail.removeprefix('project.domain: ')} (the export's domain; choose "
                              "another with --domain NAME)") from None
    ui.info(f"project {wanted.name!r} at {where}: {'created' if created else 'found'} ({project.id})")
    result = ImportResult({"name": wanted.name, "id": project.id,
                           "classification_type": wanted.classification_type, "domain": wanted.domain}, created)
    tag_ids, result.tags_created = _ensure_tags(trainer, project.id, export.tags)
    if result.tags_created:
        ui.info(f"tags created: {', '.join(result.tags_created)}")
    # add-only: an import adds what the target lacks and never changes the target's own images.
    state = sync.read_project(trainer, project.id)
    upload_plan = sync.diff(export.dataset, state.images, "add-only", lambda item: relative(export.dataset, item))
    result.skipped = len(upload_plan.present)
    result.tags_differ = [retag.describe() for retag in upload_plan.retag]
    with ui.bar("uploading images", len(upload_plan.to_upload)) as bar:
        uploaded = upload(trainer, project.id, export.dataset, upload_plan.to_upload, tag_ids, config or UploadConfig(),
                          state.metadata, bar)
    result.uploaded, result.duplicates, result.failures = uploaded.uploaded, uploaded.duplicates, uploaded.failures
    ui.info(f"images: {len(result.uploaded)} uploaded, {len(result.duplicates)} already there, "
            f"{result.skipped} unchanged" + (f", {len(result.failures)} refused" if result.failures else ""))
    return result


def _check_existing(trainer: Any, project: Any, wanted: ProjectConfig, export: ExportedFolder, where: str,
                    merge: bool) -> None:
    kind = project.settings.classification_type if project.settings else None
    if kind and kind != wanted.classification_type:
        raise TargetRefused(f"project {wanted.name!r} at {where} is {kind}, the export is "
                            f"{wanted.classification_type}: import it under another name (--project NAME)")
    others = sorted(set(existing_tags(trainer, project.id)) - {t["name"] for t in export.tags})
    if others and not merge:
        raise TargetRefused(f"project {wanted.name!r} at {where} already exists with other tags than the export "
                            f"({', '.join(others)} are not in it): pass --merge to add the export's images and tags "
                            "to it, or --project NAME to import as a new project; nothing was changed")


def _ensure_tags(trainer: Any, project_id: str, tags: list[dict[str, Any]]) -> tuple[dict[str, str], list[str]]:
    """(name -> id of every tag, the names created now), each created with its description and type."""
    tag_ids = existing_tags(trainer, project_id)
    created = []
    for tag in tags:
        if tag["name"] in tag_ids:
            continue
        try:
            tag_ids[tag["name"]] = trainer.create_tag(project_id, tag["name"], description=tag.get("description")
                                                      or None, type=tag.get("type") or "Regular").id
        except HttpOperationError as exc:
            if error_code(exc) != TAG_NAME_TAKEN:  # a create whose answer was lost (and retried): it is there
                raise
            tag_ids = existing_tags(trainer, project_id)
        created.append(tag["name"])
    return tag_ids, created
