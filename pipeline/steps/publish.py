"""Step 8: publish the iteration under the name (moving the name from the iteration that has it), then delete
the oldest unpublished iterations beyond `keep_iterations`. Also what `rollback` does.

The name moves in one call (`overwrite=True`), so prediction clients never see it missing. A service that
refuses to overwrite gets unpublish-then-publish instead. Every call here is safe to repeat: a retry whose
first attempt did its work (the answer was lost) finds the work done and carries on."""
from __future__ import annotations

from typing import Any

from pipeline.errors import PipelineError
from pipeline.sdk.errors import (CALL_FAILED, ITERATION_IS_PUBLISHED, ITERATION_NOT_FOUND, ITERATION_NOT_PUBLISHED,
                                 OVERWRITE_REFUSED, TRAINING_IN_PROGRESS, HttpOperationError, error_code, status_of)
from pipeline.sdk.iterations import by_age

SERVICE_ITERATION_LIMIT = 20


def published_under(iterations: list[Any], name: str) -> Any | None:
    """The iteration that `name` is published on now, if any."""
    holders = [i for i in iterations if getattr(i, "publish_name", None) == name]
    return by_age(holders)[-1] if holders else None


def find_iteration(iterations: list[Any], wanted: str) -> Any:
    """An iteration by id or by name (e.g. "Iteration 2")."""
    for iteration in iterations:
        if wanted in (iteration.id, iteration.name):
            return iteration
    for iteration in iterations:  # "iteration 2" is Iteration 2
        if wanted.casefold() == (iteration.name or "").casefold():
            return iteration
    names = ", ".join(i.name for i in by_age(iterations)) or "none"
    raise PipelineError(f"no iteration {wanted!r} in the project (iterations: {names})")


def publish(trainer: Any, project_id: str, iteration: Any, name: str, prediction_resource_id: str,
            previous: Any | None) -> None:
    """Move `name` to `iteration` from whichever iteration has it, in one call. If the service refuses to
    overwrite, the holder (looked up again: another run may have moved the name since `previous` was read) is
    unpublished first and gets the name back if publishing fails."""
    try:
        _publish(trainer, project_id, iteration.id, name, prediction_resource_id, overwrite=True)
        return
    except HttpOperationError as exc:
        if status_of(exc) != 400 or error_code(exc) not in OVERWRITE_REFUSED:
            raise
        # Refused: maybe no overwrite here. Who holds the name now (another run may have moved it)?
        holder = published_under(trainer.get_iterations(project_id), name)
        if holder is None or holder.id == iteration.id:
            raise
    _unpublish(trainer, project_id, holder.id)
    try:
        _publish(trainer, project_id, iteration.id, name, prediction_resource_id)
    except CALL_FAILED:
        _publish(trainer, project_id, holder.id, name, prediction_resource_id)
        raise


def _publish(trainer: Any, project_id: str, iteration_id: str, name: str, resource_id: str,
             overwrite: bool | None = None) -> None:
    try:
        if overwrite:
            trainer.publish_iteration(project_id, iteration_id, name, resource_id, overwrite=True)
        else:
            trainer.publish_iteration(project_id, iteration_id, name, resource_id)
    except CALL_FAILED:
        # A publish whose answer was lost (and retried) may find itself done already.
        if getattr(trainer.get_iteration(project_id, iteration_id), "publish_name", None) != name:
            raise


def _unpublish(trainer: Any, project_id: str, iteration_id: str) -> None:
    try:
        trainer.unpublish_iteration(project_id, iteration_id)
    except HttpOperationError as exc:
        # Already unpublished: by a retried call whose answer was lost, or by another run.
        if error_code(exc) != ITERATION_NOT_PUBLISHED:
            raise


def prune(trainer: Any, project_id: str, keep: int, protect: set[str]) -> list[str]:
    """Delete the oldest unpublished, finished iterations until `keep` remain; returns the names deleted."""
    doomed = to_delete(trainer.get_iterations(project_id), keep, protect)
    deleted = []
    for iteration in doomed:
        try:
            trainer.delete_iteration(project_id, iteration.id)
        except HttpOperationError as exc:
            code = error_code(exc)
            if code in (ITERATION_IS_PUBLISHED, TRAINING_IN_PROGRESS):
                continue  # another run published it meanwhile: it stays
            if code != ITERATION_NOT_FOUND and status_of(exc) != 404:
                raise
            # Gone already (a retried delete whose answer was lost, or another run): what we wanted.
        deleted.append(iteration.name)
    return deleted


def to_delete(iterations: list[Any], keep: int, protect: set[str]) -> list[Any]:
    """The oldest iterations beyond `keep` that may go: never a published, protected or training one."""
    ordered = by_age(iterations)
    deletable = [i for i in ordered if not getattr(i, "publish_name", None) and i.id not in protect
                 and i.status in ("Completed", "Failed")]
    return deletable[:max(0, len(ordered) - keep)]


def make_room(trainer: Any, project_id: str, protect: set[str]) -> list[str]:
    """Before training: the service keeps at most 20 iterations, so free one slot if all are used."""
    return prune(trainer, project_id, SERVICE_ITERATION_LIMIT - 1, protect)


def rollback_target(iterations: list[Any], current: Any | None, to: str | None) -> Any:
    """The named iteration, else the newest completed iteration older than the one published now."""
    if to:
        target = find_iteration(iterations, to)
        if target.status != "Completed":
            raise PipelineError(f"{target.name} is {target.status}, not Completed: it cannot be published")
        return target
    completed = [i for i in by_age(iterations) if i.status == "Completed"]
    if current is None:
        raise PipelineError("nothing is published under the name: give --to ITERATION")
    older = [i for i in completed if i.id != current.id and completed.index(i) < completed.index(current)]
    if not older:
        raise PipelineError(f"{current.name} is the oldest completed iteration: there is nothing to roll back to")
    return older[-1]
