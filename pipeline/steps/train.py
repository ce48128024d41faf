"""Step 4: train when something changed, and wait for the iteration with a progress display and a timeout.
`BadRequestTrainingNotNeeded` is not an error: the latest completed iteration is used."""
from __future__ import annotations

import time
from datetime import timezone
from typing import Any, Callable

from pipeline.config import TrainingConfig
from pipeline.errors import EXIT_BAD_INPUT, ServiceError, TrainingFailed
from pipeline.sdk.errors import (TRAINING_IN_PROGRESS, TRAINING_NOT_NEEDED, TRAINING_VALIDATION_FAILED,
                                 HttpOperationError, error_code)
from pipeline.sdk.iterations import by_age, created_at

ALREADY_IN_PROGRESS_TRIES = 5


def latest_completed(iterations: list[Any]) -> Any | None:
    done = [i for i in iterations if i.status == "Completed"]
    return by_age(done)[-1] if done else None


def training_needed(iterations: list[Any], images: list[Any], to_upload: int) -> tuple[bool, str]:
    """What `plan` says about training (without asking the service to train)."""
    if to_upload:
        return True, f"{to_upload} new image(s)"
    if any(i.status == "Training" for i in iterations):
        return True, "an iteration is training now (it will be waited for)"
    latest = latest_completed(iterations)
    if latest is None:
        return True, "no completed iteration yet"
    trained = getattr(latest, "trained_at", None) or created_at(latest)
    trained = trained if trained.tzinfo else trained.replace(tzinfo=timezone.utc)
    newer = [im for im in images if im.created and
             (im.created if im.created.tzinfo else im.created.replace(tzinfo=timezone.utc)) > trained]
    if newer:
        return True, f"{len(newer)} image(s) added since {latest.name}"
    return False, f"nothing changed since {latest.name}"


def train(trainer: Any, project_id: str, config: TrainingConfig, spinner: Any = None,
          sleep: Callable[[float], None] = time.sleep) -> tuple[Any, bool]:
    """(completed iteration, trained now). Raises TrainingFailed on `Failed` or on timeout.

    A training already in progress (another run's, or ours when the answer to the train call was lost and the
    call was retried) is waited for instead of started. "Not needed" when the latest iteration was trained on
    another domain than the project's (the project was moved) trains anyway: the images did not change, the
    model must."""
    force = False
    for _ in range(ALREADY_IN_PROGRESS_TRIES):
        try:
            iteration = trainer.train_project(
                project_id, training_type=config.type,
                reserved_budget_in_hours=config.budget_hours if config.type == "Advanced" else 0,
                notification_email_address=config.notification_email, **({"force_train": True} if force else {}))
        except HttpOperationError as exc:
            code = error_code(exc)
            if code in TRAINING_NOT_NEEDED:
                latest = latest_completed(trainer.get_iterations(project_id))
                if latest is not None and not force and _on_another_domain(trainer, project_id, latest):
                    force = True
                    continue
                if latest is not None:
                    return latest, False
            if code == TRAINING_IN_PROGRESS:
                running = [i for i in trainer.get_iterations(project_id) if i.status == "Training"]
                if running:
                    return wait(trainer, project_id, by_age(running)[-1], config, spinner, sleep), True
                continue  # it finished between the two calls: ask again (now "not needed", or a new training)
            if code:
                error = ServiceError(f"training was refused: {code}: {getattr(exc.error, 'message', '') or exc}",
                                     code)
                if code == TRAINING_VALIDATION_FAILED:
                    error.exit_code = EXIT_BAD_INPUT
                raise error from None
            raise
        return wait(trainer, project_id, iteration, config, spinner, sleep), True
    raise ServiceError(f"training was refused: {TRAINING_IN_PROGRESS}, but no iteration is training",
                       TRAINING_IN_PROGRESS)


def _on_another_domain(trainer: Any, project_id: str, iteration: Any) -> bool:
    trained_on = getattr(iteration, "domain_id", None)
    if not trained_on:
        return False
    domain = getattr(getattr(trainer.get_project(project_id), "settings", None), "domain_id", None)
    return bool(domain and domain != trained_on)


def wait(trainer: Any, project_id: str, iteration: Any, config: TrainingConfig, spinner: Any = None,
         sleep: Callable[[float], None] = time.sleep) -> Any:
    """Poll the iteration until it is Completed; Failed or a timeout raise TrainingFailed."""
    start = time.monotonic()
    deadline = start + config.timeout_minutes * 60
    interval = 1.0
    while iteration.status not in ("Completed", "Failed"):
        if spinner is not None:
            spinner.update(f"training {iteration.name}: {iteration.status}", f"({time.monotonic() - start:.0f} s)")
        if time.monotonic() >= deadline:
            raise TrainingFailed(f"{iteration.name} still {iteration.status} after {config.timeout_minutes:g} "
                                 "minutes (training.timeout_minutes); it goes on on the service: run again later")
        sleep(interval)
        interval = min(interval * 1.5, 15.0)
        iteration = trainer.get_iteration(project_id, iteration.id)
    if iteration.status == "Failed":
        reason = getattr(iteration, "training_error_details", None) or "no reason given"
        raise TrainingFailed(f"training of {iteration.name} failed: {reason}")
    return iteration
