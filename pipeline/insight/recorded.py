"""Which dataset version each iteration trained on, kept in the project's description, one line an iteration:

    cvops:dataset 6c0e2c1e-8a53-4d2b-9d1e-0f4a2b7c9e11 3f9a0c1d2e4b

Why the description (as the hold, steps/hold.py) and not the iteration: Custom Vision lets a client change only
an iteration's name, and the name is what people and `cvops rollback --to` call it by ("Iteration 3"); a
version stuck onto it would change that, and a rename in the portal would lose it. Images cannot hold it
either (their metadata is the image map's, and an iteration is not an image). The description is a plain
project field that `update_project` changes on Azure as on the self-hosted service, that every listing
returns (no extra request to read it), that every runner sees, and that training never touches. A line costs
63 characters; lines of iterations that no longer exist are dropped whenever one is written, so at most 20
(the service's iteration limit) are there. Other lines of the description are kept as they are."""
from __future__ import annotations

import re
from typing import Any

from pipeline.steps.hold import set_description

MARKER = "cvops:dataset "
_LINE = re.compile(r"^cvops:dataset (\S+) ([0-9a-f]{12})$")


def recorded(description: str | None) -> dict[str, str]:
    """Iteration id -> dataset version, from a project description (other lines ignored)."""
    found = {}
    for line in (description or "").splitlines():
        match = _LINE.match(line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def version_of_iteration(project: Any, iteration_id: str) -> str | None:
    return recorded(getattr(project, "description", None)).get(iteration_id)


def with_version(description: str | None, iteration_id: str, version: str, live: set[str]) -> str:
    """The description with `iteration_id`'s version recorded; lines of iterations not in `live` dropped."""
    def kept(line: str) -> bool:
        match = _LINE.match(line.strip())
        return match is None or (match.group(1) in live and match.group(1) != iteration_id)

    lines = [line for line in (description or "").splitlines() if kept(line)]
    return "\n".join(lines + [f"{MARKER}{iteration_id} {version}"])


def without_versions(description: str | None) -> str:
    """The description without its version lines: what an imported copy of the project starts from (the lines
    name the source's iterations)."""
    return "\n".join(line for line in (description or "").splitlines() if not _LINE.match(line.strip()))


def record_version(trainer: Any, project_id: str, iteration_id: str, version: str, live: set[str]) -> None:
    """Write the line (reading the description again first: a rollback may have changed it meanwhile); lines of
    iterations not in `live` (the iterations as last listed) are dropped."""
    current = trainer.get_project(project_id)
    if recorded(current.description).get(iteration_id) == version:
        return
    set_description(trainer, current, with_version(current.description, iteration_id, version, live))
