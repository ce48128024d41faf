"""`cvops import FOLDER`: a folder written by `cvops export` into a project on the target (created with its
domain by name and its tags, images through the pipeline's incremental upload), optionally trained, gated and
published. A rerun changes nothing."""
from __future__ import annotations

from typing import Any

from pipeline.errors import EXIT_BAD_INPUT, EXIT_FAILURE
from pipeline.progress import Progress
from pipeline.sdk.clients import training_client
from pipeline.transfer.endpoints import Endpoint
from pipeline.transfer.importing import ImportResult, import_folder, read_folder
from pipeline.transfer.training import TrainingPlan, require_publishing, train_and_publish

RESOURCE_HINT = ("set CVOPS_TARGET_PREDICTION_RESOURCE_ID (with --to URL) or CUSTOM_VISION_PREDICTION_RESOURCE_ID, "
                 "or use --to stack:NAME")


def import_(target: Endpoint, folder: str, ui: Progress, training: TrainingPlan, project: str | None = None,
            domain: str | None = None, merge: bool = False) -> dict[str, Any]:
    """What was imported (and trained); `exit_code` says how it ended (2: images refused, 3: a gate failed)."""
    require_publishing(training, target.service.prediction_resource_id, RESOURCE_HINT)
    export = read_folder(folder)
    trainer = training_client(target.service)
    result = import_folder(trainer, export, target.label, ui, project, domain, merge, training.upload)
    outcome = result.to_dict()
    outcome.update(exit_code=0, training=None)
    refused(result, outcome)
    if training.wanted and not result.failures:
        outcome["training"] = train_and_publish(trainer, result.project["id"], training,
                                                target.service.prediction_resource_id, ui)
        outcome["exit_code"] = outcome["training"]["exit_code"]
        outcome["message"] = outcome["training"].get("message")
    return outcome


def refused(result: ImportResult, outcome: dict[str, Any]) -> None:
    """Images the target refused end the command with an exit code that says so (2 when they are bad images)."""
    if result.failures:
        listing = "; ".join(f"{name}: {status}" for name, status in result.failures[:10])
        outcome["exit_code"] = EXIT_BAD_INPUT if result.input_problem else EXIT_FAILURE
        outcome["message"] = (f"{len(result.failures)} image(s) refused by the target ({listing}); the other images "
                              "were imported, nothing was trained")
