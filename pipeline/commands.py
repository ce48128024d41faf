"""`cvops status`, `cvops rollback` and `cvops classify`: reading and moving the published iteration, and the
client application that calls the published prediction endpoint."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.configfile import LoadedConfig
from pipeline.errors import ConfigError, DatasetError, PipelineError
from pipeline.progress import Progress
from pipeline.service import prediction_client, training_client
from pipeline.steps.performance import read_performance
from pipeline.steps.project import find_project
from pipeline.steps.publish import publish, published_under, rollback_target
from pipeline.steps.smoke import is_url
from pipeline.steps.train import by_age


def _project(loaded: LoadedConfig, trainer: Any) -> Any:
    project = find_project(trainer, loaded.config.project.name)
    if project is None:
        raise PipelineError(f"no project {loaded.config.project.name!r} on the service: run `cvops run` first")
    return project


def status(loaded: LoadedConfig) -> dict[str, Any]:
    """The published iteration, its performance, and the iterations kept."""
    config = loaded.config
    trainer = training_client(config.service)
    project = _project(loaded, trainer)
    iterations = by_age(trainer.get_iterations(project.id))
    published = published_under(iterations, config.publish.name)
    performance = None
    if published is not None:
        performance = read_performance(trainer, project.id, published, config.evaluation.threshold).to_dict()
    return {"project": {"name": project.name, "id": project.id}, "published_name": config.publish.name,
            "published": published.name if published else None,
            "published_iteration_id": published.id if published else None, "performance": performance,
            "iterations": [{"name": i.name, "id": i.id, "status": i.status,
                            "created": i.created.isoformat() if i.created else None,
                            "published_as": i.publish_name or None} for i in iterations]}


def rollback(loaded: LoadedConfig, to: str | None, ui: Progress) -> dict[str, Any]:
    """Publish the previous (or the named) iteration under the name again."""
    config = loaded.config
    if not config.service.prediction_resource_id:
        raise ConfigError("service.prediction_resource_id is not set: it is needed to publish", loaded.source.file,
                          loaded.source.line(("service",)))
    trainer = training_client(config.service)
    project = _project(loaded, trainer)
    iterations = trainer.get_iterations(project.id)
    current = published_under(iterations, config.publish.name)
    target = rollback_target(iterations, current, to)
    if current is not None and current.id == target.id:
        ui.info(f"{target.name} is already published as {config.publish.name!r}")
    else:
        publish(trainer, project.id, target, config.publish.name, config.service.prediction_resource_id, current)
        ui.info(f"published {target.name} as {config.publish.name!r}" + (f" (was {current.name})" if current else ""))
    return {"published_name": config.publish.name, "iteration": target.name, "iteration_id": target.id,
            "previous": current.name if current else None}


def classify(loaded: LoadedConfig, images: list[str], project_id: str | None = None) -> list[dict[str, Any]]:
    """Each image's predictions from the published endpoint, highest probability first."""
    config = loaded.config
    missing = [image for image in images if not is_url(image) and not Path(image).is_file()]
    if missing:
        raise DatasetError(f"no such image file: {', '.join(missing)}")
    if project_id is None:
        project_id = _project(loaded, training_client(config.service)).id
    predictor = prediction_client(config.service)
    results = []
    for image in images:
        if is_url(image):
            prediction = predictor.classify_image_url(project_id, config.publish.name, image)
        else:
            prediction = predictor.classify_image(project_id, config.publish.name, Path(image).read_bytes())
        ranked = sorted(prediction.predictions or [], key=lambda p: p.probability or 0.0, reverse=True)
        results.append({"image": image, "top_tag": ranked[0].tag_name if ranked else None,
                        "probability": ranked[0].probability if ranked else None,
                        "predictions": [{"tag": p.tag_name, "probability": p.probability} for p in ranked]})
    return results
