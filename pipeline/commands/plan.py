"""`cvops plan`: what `run` would do (project, tags, uploads, training, publish), from read-only calls."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.config.checks import check
from pipeline.config.loader import LoadedConfig
from pipeline.dataset import Dataset
from pipeline.sdk.clients import training_client
from pipeline.sdk.tiers import tier as tier_named
from pipeline.steps.project import domain_change, find_project, resolve_domain, room_for_project
from pipeline.steps.publish import published_under
from pipeline.steps.tags import existing_tags, missing_tags
from pipeline.steps.train import training_needed
from pipeline.steps.upload import UploadPlan, plan_upload, project_images, relative


@dataclass
class Plan:
    project_name: str
    project_id: str | None
    domain: str
    tags_to_create: list[str]
    upload: UploadPlan
    train: bool
    train_reason: str
    published: str | None
    publish_name: str
    files: list[str]
    domain_change: Any = None  # steps.project.DomainChange

    def to_dict(self) -> dict[str, Any]:
        return {"project": {"name": self.project_name, "id": self.project_id, "create": self.project_id is None,
                            "domain": self.domain,
                            "domain_change": self.domain_change.to_dict() if self.domain_change else None},
                "tags_to_create": self.tags_to_create,
                "images": {"upload": len(self.upload.to_upload), "upload_bytes": self.upload.bytes,
                           "skip": len(self.upload.skipped), "files": self.files,
                           "tags_differ": self.upload.retag, "only_in_project": self.upload.project_only},
                "training": {"needed": self.train, "reason": self.train_reason},
                "publish": {"name": self.publish_name, "now_published": self.published,
                            "would_publish": "the new iteration, if it passes the gates" if self.train
                            else "the latest completed iteration, if it passes the gates"}}


def make_plan(loaded: LoadedConfig, dataset: Dataset, trainer: Any) -> Plan:
    """What `run` would do, from read-only calls."""
    config = loaded.config
    project = find_project(trainer, config.project.name)
    if project is None:
        resolve_domain(trainer, config.project.domain)
        room_for_project(trainer, tier_named(config.service.tier))
        upload_plan = UploadPlan(list(dataset.images), [])
        return Plan(config.project.name, None, config.project.domain, dataset.tags, upload_plan, True,
                    "new project", None, config.publish.name, _names(dataset, upload_plan))
    change = domain_change(trainer, project, config.project)
    tags = existing_tags(trainer, project.id)
    images = project_images(trainer, project.id)
    upload_plan = plan_upload(dataset, images)
    iterations = trainer.get_iterations(project.id)
    needed, reason = training_needed(iterations, images, len(upload_plan.to_upload))
    if change is not None and change.move:
        needed, reason = True, f"the project moves to domain {change.wanted!r}"
    published = published_under(iterations, config.publish.name)
    return Plan(config.project.name, project.id, config.project.domain, missing_tags(dataset.tags, tags),
                upload_plan, needed, reason, published.name if published else None, config.publish.name,
                _names(dataset, upload_plan), change)


def _names(dataset: Dataset, upload_plan: UploadPlan) -> list[str]:
    return [relative(dataset, image) for image in upload_plan.to_upload]


def plan(loaded: LoadedConfig) -> Plan:
    """Check the config and the dataset, then ask the service what is there."""
    dataset = check(loaded)
    return make_plan(loaded, dataset, training_client(loaded.config.service))
