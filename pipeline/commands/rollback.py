"""`cvops rollback`: publish the previous (or the named) iteration under the name again, and hold it there.

The hold is recorded in the project (its description, see steps/hold.py), so that every runner's `cvops run`
sees it: runs train and gate but do not publish until `cvops release`."""
from __future__ import annotations

from typing import Any

from pipeline.config.loader import LoadedConfig
from pipeline.errors import ConfigError, PipelineError
from pipeline.progress import Progress
from pipeline.sdk.clients import training_client
from pipeline.sdk.errors import CALL_FAILED
from pipeline.steps.hold import new_hold, record_hold
from pipeline.steps.project import require_project
from pipeline.steps.publish import publish, published_under, rollback_target


def rollback(loaded: LoadedConfig, to: str | None, ui: Progress) -> dict[str, Any]:
    config = loaded.config
    if not config.service.prediction_resource_id:
        raise ConfigError("service.prediction_resource_id is not set: it is needed to publish", loaded.source.file,
                          loaded.source.line(("service",)))
    trainer = training_client(config.service)
    project = require_project(trainer, config.project.name)
    iterations = trainer.get_iterations(project.id)
    current = published_under(iterations, config.publish.name)
    target = rollback_target(iterations, current, to)
    if current is not None and current.id == target.id:
        ui.info(f"{target.name} is already published as {config.publish.name!r}")
    else:
        publish(trainer, project.id, target, config.publish.name, config.service.prediction_resource_id, current)
        ui.info(f"published {target.name} as {config.publish.name!r}" + (f" (was {current.name})" if current else ""))
    hold = new_hold(config.publish.name, target)
    try:
        record_hold(trainer, project, hold)
    except CALL_FAILED as exc:
        raise PipelineError(f"{target.name} is published as {config.publish.name!r}, but the hold could not be "
                            f"recorded in the project ({type(exc).__name__}: {str(exc).splitlines()[0]}): until it "
                            "is, the next `cvops run` may publish a newer iteration; run `cvops rollback` again"
                            ) from exc
    ui.info(f"hold recorded in the project: `cvops run` will not publish over {target.name} until `cvops release`")
    return {"published_name": config.publish.name, "iteration": target.name, "iteration_id": target.id,
            "previous": current.name if current else None, "hold": hold.to_dict()}
