"""`cvops status`: the published iteration, its performance, any hold on the name, the iterations kept, and what
each can be exported to (its domain's export platforms, as the service lists them)."""
from __future__ import annotations

from typing import Any

from pipeline.config.loader import LoadedConfig
from pipeline.sdk.clients import training_client
from pipeline.sdk.iterations import by_age
from pipeline.steps.hold import hold_on
from pipeline.steps.performance import read_performance
from pipeline.steps.project import require_project
from pipeline.steps.publish import published_under


def status(loaded: LoadedConfig) -> dict[str, Any]:
    config = loaded.config
    trainer = training_client(config.service)
    project = require_project(trainer, config.project.name)
    iterations = by_age(trainer.get_iterations(project.id))
    published = published_under(iterations, config.publish.name)
    performance = None
    if published is not None:
        performance = read_performance(trainer, project.id, published, config.evaluation.threshold).to_dict()
    hold = hold_on(project, config.publish.name)
    domains = {d.id: d for d in trainer.get_domains()}
    domain = domains.get(project.settings.domain_id)
    return {"project": {"name": project.name, "id": project.id}, "published_name": config.publish.name,
            "domain": _domain(domain, project.settings.domain_id),
            "published": published.name if published else None, "hold": hold.to_dict() if hold else None,
            "published_iteration_id": published.id if published else None, "performance": performance,
            "iterations": [{"name": i.name, "id": i.id, "status": i.status,
                            "created": i.created.isoformat() if i.created else None,
                            "published_as": i.publish_name or None,
                            "domain": (domains[i.domain_id].name if i.domain_id in domains else i.domain_id),
                            "exportable_to": list(i.exportable_to or [])} for i in iterations]}


def _domain(domain: Any, domain_id: str) -> dict[str, Any]:
    """The project's domain and the platforms its iterations export to (`exportablePlatforms`)."""
    if domain is None:
        return {"id": domain_id, "name": None, "exportable_platforms": []}
    return {"id": domain.id, "name": domain.name, "exportable_platforms": list(domain.exportable_platforms or [])}
