"""Which iteration a command means: one named by `--iteration`/`--from`/`--to` (name or id), else the one
published under the config's name, else the latest trained one. An id of another project's iteration is named
as such, not just "not found"."""
from __future__ import annotations

import re
from typing import Any

from pipeline.errors import InputError
from pipeline.sdk.iterations import by_age
from pipeline.steps.publish import published_under

_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def choose(trainer: Any, project: Any, iterations: list[Any], wanted: str | None, publish_name: str) -> Any:
    if wanted is None:
        chosen = published_under(iterations, publish_name)
        done = [i for i in by_age(iterations) if i.status == "Completed"]
        chosen = chosen or (done[-1] if done else None)
        if chosen is None:
            raise InputError(f"project {project.name!r} has no trained iteration yet: run `cvops run` first")
        return chosen
    for iteration in iterations:
        if wanted in (iteration.id, iteration.name) or wanted.casefold() == (iteration.name or "").casefold():
            return _trained(iteration)
    elsewhere = _other_projects_iteration(trainer, project, wanted) if _ID.match(wanted) else None
    if elsewhere is not None:
        raise InputError(f"iteration {wanted} is {elsewhere[1]!r} of project {elsewhere[0]!r}, not of "
                         f"{project.name!r}: dataset versions compare within one project")
    names = ", ".join(i.name for i in by_age(iterations)) or "none"
    raise InputError(f"no iteration {wanted!r} in project {project.name!r} (iterations: {names})")


def _trained(iteration: Any) -> Any:
    if iteration.status != "Completed":
        raise InputError(f"{iteration.name} is {iteration.status}: it has no dataset version or held-out "
                         "predictions until it has trained")
    return iteration


def _other_projects_iteration(trainer: Any, project: Any, iteration_id: str) -> tuple[str, str] | None:
    """(project name, iteration name) of the other project that has `iteration_id`, if any (one listing each)."""
    for other in trainer.get_projects():
        if other.id == project.id:
            continue
        for iteration in trainer.get_iterations(other.id):
            if iteration.id == iteration_id:
                return other.name, iteration.name
    return None
