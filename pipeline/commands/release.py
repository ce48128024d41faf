"""`cvops release` (or `unhold`): lift the hold `cvops rollback` recorded, so that `run` publishes again."""
from __future__ import annotations

from typing import Any

from pipeline.config.loader import LoadedConfig
from pipeline.progress import Progress
from pipeline.sdk.clients import training_client
from pipeline.steps.hold import release_hold
from pipeline.steps.project import require_project


def release(loaded: LoadedConfig, ui: Progress) -> dict[str, Any]:
    config = loaded.config
    trainer = training_client(config.service)
    project = require_project(trainer, config.project.name)
    hold = release_hold(trainer, project, config.publish.name)
    if hold is not None:
        ui.info(f"the next `cvops run` publishes the latest iteration that passes the gates as "
                f"{config.publish.name!r}")
    return {"published_name": config.publish.name, "released": hold.to_dict() if hold else None}
