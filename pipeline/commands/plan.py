"""`cvops plan`: what `run` would do (project, tags, uploads, sync, training, publish), from read-only calls."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.config.checks import check
from pipeline.config.loader import LoadedConfig
from pipeline.dataset import Dataset
from pipeline.insight.recorded import version_of_iteration
from pipeline.insight.trained import working_tree
from pipeline.sdk.clients import training_client
from pipeline.sdk.tiers import tier as tier_named
from pipeline.steps import sync
from pipeline.steps.hold import Hold, hold_on
from pipeline.steps.project import domain_change, find_project, resolve_domain, room_for_project
from pipeline.steps.publish import published_under
from pipeline.steps.tags import existing_tags, missing_tags
from pipeline.steps.train import training_needed
from pipeline.steps.upload import relative

LISTED = 1000  # files named in the JSON plan, per list


@dataclass
class Plan:
    project_name: str
    project_id: str | None
    domain: str
    tags_to_create: list[str]
    sync: sync.SyncPlan
    delete_limit: int
    project_images: int
    train: bool
    train_reason: str
    published: str | None
    publish_name: str
    hold: Hold | None
    files: list[str]
    domain_change: Any = None  # steps.project.DomainChange
    dataset_version: str | None = None  # the working tree's
    published_version: str | None = None  # the one the published iteration trained on, as recorded

    def to_dict(self) -> dict[str, Any]:
        s = self.sync
        upload_bytes = sum(image.size for image in s.to_upload)
        if self.hold is not None:
            would = f"nothing: {self.hold.describe()}; `cvops release` lifts the hold"
        elif self.train:
            would = "the new iteration, if it passes the gates"
        else:
            would = "the latest completed iteration, if it passes the gates"
        return {"project": {"name": self.project_name, "id": self.project_id, "create": self.project_id is None,
                            "domain": self.domain,
                            "domain_change": self.domain_change.to_dict() if self.domain_change else None},
                "tags_to_create": self.tags_to_create,
                "images": {"upload": len(s.to_upload), "upload_bytes": upload_bytes, "skip": len(s.present),
                           "files": self.files[:LISTED]},
                "sync": s.summary(self.delete_limit, self.project_images, LISTED),
                "dataset": {"version": self.dataset_version, "published_version": self.published_version},
                "training": {"needed": self.train, "reason": self.train_reason},
                "publish": {"name": self.publish_name, "now_published": self.published, "would_publish": would,
                            "hold": self.hold.to_dict() if self.hold else None}}


def make_plan(loaded: LoadedConfig, dataset: Dataset, trainer: Any) -> Plan:
    """What `run` would do, from read-only calls."""
    config = loaded.config
    mode = config.dataset.sync
    project = find_project(trainer, config.project.name)
    if project is None:
        resolve_domain(trainer, config.project.domain)
        room_for_project(trainer, tier_named(config.service.tier))
        plan = sync.SyncPlan(mode, list(dataset.images), [], [], [], [])
        return Plan(config.project.name, None, config.project.domain, dataset.tags, plan,
                    sync.delete_limit(config.dataset.max_delete, 0), 0, True, "new project", None,
                    config.publish.name, None, _names(dataset, plan), dataset_version=working_tree(dataset).version)
    change = domain_change(trainer, project, config.project)
    tags = existing_tags(trainer, project.id)
    state = sync.read_project(trainer, project.id)
    plan = sync.diff(dataset, state.images, mode, lambda item: relative(dataset, item))
    iterations = trainer.get_iterations(project.id)
    needed, reason = training_needed(iterations, state.listed, len(plan.to_upload))
    changes = plan.changes()
    if changes:
        needed, reason = True, f"{reason}, {changes}" if needed else changes
    if change is not None and change.move:
        needed, reason = True, f"the project moves to domain {change.wanted!r}"
    published = published_under(iterations, config.publish.name)
    return Plan(config.project.name, project.id, config.project.domain, missing_tags(dataset.tags, tags),
                plan, sync.delete_limit(config.dataset.max_delete, len(state.listed)), len(state.listed), needed,
                reason, published.name if published else None, config.publish.name,
                hold_on(project, config.publish.name), _names(dataset, plan), change, working_tree(dataset).version,
                version_of_iteration(project, published.id) if published else None)


def _names(dataset: Dataset, plan: sync.SyncPlan) -> list[str]:
    return [relative(dataset, image) for image in plan.to_upload]


def plan(loaded: LoadedConfig) -> Plan:
    """Check the config and the dataset, then ask the service what is there."""
    dataset = check(loaded)
    return make_plan(loaded, dataset, training_client(loaded.config.service))
