"""`cvops status`: the published iteration, the dataset version it trained on, its performance, any hold on the
name, the iterations kept (each with its dataset version and what it can be exported to: its domain's export
platforms, as the service lists them); `--confusion` adds the published iteration's held-out confusion (the most
confused pairs first; the JSON has the whole matrix; object detection: boxes, with each tag's TP, FP and FN)."""
from __future__ import annotations

from typing import Any

from pipeline.config.loader import LoadedConfig
from pipeline.insight.analysis import analyse
from pipeline.insight.recorded import recorded
from pipeline.insight.versions import manifests_folder
from pipeline.sdk.clients import training_client
from pipeline.sdk.iterations import by_age
from pipeline.steps.hold import hold_on
from pipeline.steps.performance import read_performance
from pipeline.steps.project import require_project
from pipeline.steps.publish import published_under


def status(loaded: LoadedConfig, confusion: bool = False) -> dict[str, Any]:
    config = loaded.config
    trainer = training_client(config.service)
    project = require_project(trainer, config.project.name)
    iterations = by_age(trainer.get_iterations(project.id))
    published = published_under(iterations, config.publish.name)
    versions = recorded(project.description)
    performance = None
    if published is not None:
        overlap = config.evaluation.overlap_threshold if config.detection else None
        performance = read_performance(trainer, project.id, published, config.evaluation.threshold,
                                       overlap).to_dict()
    hold = hold_on(project, config.publish.name)
    domains = {d.id: d for d in trainer.get_domains()}
    domain = domains.get(project.settings.domain_id)
    result = {"project": {"name": project.name, "id": project.id}, "published_name": config.publish.name,
              "domain": _domain(domain, project.settings.domain_id),
              "published": published.name if published else None, "hold": hold.to_dict() if hold else None,
              "published_iteration_id": published.id if published else None,
              "dataset_version": versions.get(published.id) if published else None, "performance": performance,
              "iterations": [{"name": i.name, "id": i.id, "status": i.status,
                              "created": i.created.isoformat() if i.created else None,
                              "published_as": i.publish_name or None, "dataset_version": versions.get(i.id),
                              "domain": (domains[i.domain_id].name if i.domain_id in domains else i.domain_id),
                              "exportable_to": list(i.exportable_to or [])}
                             for i in iterations]}
    if confusion:
        result["confusion"] = _confusion(trainer, loaded, project, published)
    return result


def _domain(domain: Any, domain_id: str) -> dict[str, Any]:
    """The project's domain and the platforms its iterations export to (`exportablePlatforms`)."""
    if domain is None:
        return {"id": domain_id, "name": None, "exportable_platforms": []}
    return {"id": domain.id, "name": domain.name, "exportable_platforms": list(domain.exportable_platforms or [])}


def _confusion(trainer: Any, loaded: LoadedConfig, project: Any, published: Any | None) -> dict[str, Any] | None:
    if published is None:
        return None
    config = loaded.config
    insight = analyse(trainer, project.id, published, config.project.classification_type == "Multilabel",
                      config.evaluation.threshold, lambda image_id: f"image {image_id}",
                      kept=manifests_folder(config),
                      overlap=config.evaluation.overlap_threshold if config.detection else None)
    return insight.report()[0]
