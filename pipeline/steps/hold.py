"""A hold on a published name, kept in the project's description so that every runner sees it.

`cvops rollback` writes one line `cvops:hold {...}` (JSON: the published name, the iteration held, when, by
what) into the project's description with `update_project`; `run` reads it from the project it already
fetched (no extra request) and, while it is there, trains and gates but does not publish; `cvops release`
removes the line. The description is a plain project field that Custom Vision keeps, returns in every project
listing and shows in its portal, and that `update_project` changes on Azure as on the self-hosted service; no
image, tag or iteration (which training and the iteration limit act on) is touched. Other text in the
description is kept as it is."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

MARKER = "cvops:hold "


@dataclass(frozen=True)
class Hold:
    publish_name: str
    iteration_id: str
    iteration: str  # its name when the hold was set
    since: str  # ISO 8601, UTC
    by: str = "cvops rollback"

    def describe(self) -> str:
        return f"{self.publish_name!r} is held on {self.iteration} (by {self.by}, {self.since})"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def holds(description: str | None) -> dict[str, Hold]:
    """Published name -> its hold, from a project description (lines that are not holds are ignored)."""
    found = {}
    for line in (description or "").splitlines():
        if not line.startswith(MARKER):
            continue
        try:
            data = json.loads(line[len(MARKER):])
            hold = Hold(str(data["publish"]), str(data["iteration_id"]), str(data.get("iteration", "")),
                        str(data.get("since", "")), str(data.get("by", "cvops rollback")))
        except (ValueError, KeyError, TypeError):
            continue  # a hand-edited line that is not ours any more
        found[hold.publish_name] = hold
    return found


def hold_on(project: Any, publish_name: str) -> Hold | None:
    """The hold on `publish_name` recorded in the project, if any."""
    return holds(getattr(project, "description", None)).get(publish_name)


def with_hold(description: str | None, hold: Hold) -> str:
    """The description with `hold` recorded (replacing any hold on the same name)."""
    line = MARKER + json.dumps({"publish": hold.publish_name, "iteration_id": hold.iteration_id,
                                "iteration": hold.iteration, "since": hold.since, "by": hold.by},
                               separators=(", ", ": "))
    return "\n".join(_without(description, hold.publish_name) + [line])


def without_hold(description: str | None, publish_name: str) -> str:
    return "\n".join(_without(description, publish_name))


def without_holds(description: str | None) -> str:
    """The description without any hold: what an imported copy of the project starts from (a hold names the
    source's iteration, which the copy does not have, and would stop the copy's runs from publishing)."""
    return "\n".join(line for line in (description or "").splitlines() if not holds(line))


def _without(description: str | None, publish_name: str) -> list[str]:
    return [line for line in (description or "").splitlines()
            if not (line.startswith(MARKER) and holds(line).get(publish_name))]


def new_hold(publish_name: str, iteration: Any, by: str = "cvops rollback") -> Hold:
    return Hold(publish_name, iteration.id, iteration.name,
                datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"), by)


def set_description(trainer: Any, project: Any, description: str) -> Any:
    """Write the project's description, leaving its name and settings as they are."""
    from azure.cognitiveservices.vision.customvision.training.models import Project

    return trainer.update_project(project.id, Project(name=project.name, description=description,
                                                      settings=project.settings))


def record_hold(trainer: Any, project: Any, hold: Hold) -> Any:
    current = trainer.get_project(project.id)  # the latest description: another runner may have changed it
    return set_description(trainer, current, with_hold(current.description, hold))


def release_hold(trainer: Any, project: Any, publish_name: str) -> Hold | None:
    """Remove the hold on `publish_name`; returns the hold removed (None: there was none)."""
    current = trainer.get_project(project.id)
    hold = hold_on(current, publish_name)
    if hold is not None:
        set_description(trainer, current, without_hold(current.description, publish_name))
    return hold
