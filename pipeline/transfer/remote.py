"""What a project holds, read through the official SDK: the project by name or id, every image (tagged and
untagged, page by page, oldest first so that images added meanwhile land on later pages instead of shifting
earlier ones), and the record of the project for project.json."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from pipeline.errors import DatasetError
from pipeline.sdk.errors import HttpOperationError, status_of
from pipeline.steps.performance import read_performance
from pipeline.steps.project import find_project
from pipeline.transfer.folder import FORMAT

PAGE = 256  # the most get_tagged_images / get_untagged_images return
THRESHOLD = 0.5  # the portal's default probability threshold, at which performance is recorded
_ID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class ProjectNotFound(DatasetError):
    """The project named on the command line is not on the service (exit 2: fix the name)."""


def find(trainer: Any, name_or_id: str, where: str) -> Any:
    """The project with this id, else with this name; a clear error listing the projects there if none."""
    if _ID.match(name_or_id):
        try:
            return trainer.get_project(name_or_id)
        except HttpOperationError as exc:
            if status_of(exc) != 404:
                raise
    project = find_project(trainer, name_or_id)
    if project is not None:
        return project
    names = sorted(p.name for p in trainer.get_projects())
    listed = ", ".join(repr(n) for n in names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
    raise ProjectNotFound(f"no project {name_or_id!r} at {where}; projects there: {listed or 'none'}")


def all_images(trainer: Any, project_id: str) -> list[Any]:
    """Every image of the project, each once: tagged ones, then untagged ones."""
    images: dict[str, Any] = {}
    for operation in (trainer.get_tagged_images, trainer.get_untagged_images):
        skip = 0
        while True:
            page = operation(project_id, order_by="Oldest", take=PAGE, skip=skip) or []
            for image in page:
                images.setdefault(image.id, image)
            if len(page) < PAGE:
                break
            skip += PAGE
    return list(images.values())


def tag_names(image: Any) -> list[str]:
    return sorted(t.tag_name for t in (image.tags or []) if t.tag_name)


def regions_of(image: Any) -> list[dict[str, Any]]:
    """An object detection image's regions as project folders keep them: {tag, left, top, width, height}, by
    tag and position (a classification image has none)."""
    return sorted(({"tag": r.tag_name, "left": r.left, "top": r.top, "width": r.width, "height": r.height}
                   for r in (getattr(image, "regions", None) or []) if r.tag_name),
                  key=lambda r: (r["tag"], r["left"], r["top"], r["width"], r["height"]))


SAME_BOX = 1e-6  # each service stores its own floats: boxes this close are the same


def same_regions(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Two images' regions are the same boxes: one for one, the same tag, every coordinate within 1e-6."""
    left = list(b)
    for region in a:
        match = next((r for r in left if r["tag"] == region["tag"] and all(
            abs(float(r[k]) - float(region[k])) <= SAME_BOX for k in ("left", "top", "width", "height"))), None)
        if match is None:
            return False
        left.remove(match)
    return not left


def domain_of(trainer: Any, domain_id: str | None) -> Any | None:
    return next((d for d in trainer.get_domains() if d.id == domain_id), None) if domain_id else None


def describe(trainer: Any, project: Any, endpoint: str, images: list[Any]) -> dict[str, Any]:
    """project.json: the project's settings, tags, images in numbers, and each iteration with its performance."""
    settings = project.settings
    domain = domain_of(trainer, settings.domain_id if settings else None)
    domains = {d.id: d.name for d in trainer.get_domains()}
    tags = trainer.get_tags(project.id)
    return {
        "format": FORMAT,
        "exported": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": {"endpoint": endpoint, "project_id": project.id, "project_name": project.name},
        "project": {"name": project.name, "description": project.description or "",
                    "classification_type": (settings.classification_type if settings else None) or "Multiclass",
                    "domain": domain.name if domain else None,
                    "domain_id": settings.domain_id if settings else None,
                    "project_type": (domain.type if domain else None) or "Classification",
                    "target_export_platforms": list((settings.target_export_platforms or []) if settings else []),
                    "created": _when(project.created)},
        "tags": [{"name": t.name, "description": t.description or "", "type": t.type or "Regular",
                  "image_count": t.image_count} for t in sorted(tags, key=lambda t: t.name)],
        "images": {"count": len(images), "untagged": sum(1 for im in images if not im.tags),
                   "regions": sum(len(im.regions or []) for im in images)},
        "iterations": [_iteration(trainer, project.id, i, domains) for i in
                       sorted(trainer.get_iterations(project.id), key=lambda i: _when(i.created) or "")],
        "note": "Iterations are a record of what was: trained models stay on the service that trained them. "
                "Train again on the target (cvops import --train, or cvops run).",
    }


def _iteration(trainer: Any, project_id: str, iteration: Any, domains: dict[str, str]) -> dict[str, Any]:
    record = {"name": iteration.name, "id": iteration.id, "status": iteration.status,
              "created": _when(iteration.created), "trained_at": _when(iteration.trained_at),
              "training_type": iteration.training_type, "domain": domains.get(iteration.domain_id),
              "classification_type": iteration.classification_type, "publish_name": iteration.publish_name or None,
              "exportable": iteration.exportable, "performance": None}
    if iteration.status == "Completed":
        record["performance"] = read_performance(trainer, project_id, iteration, THRESHOLD).to_dict()
    return record


def published(description: dict[str, Any]) -> dict[str, Any] | None:
    """The iteration the record says was published (the latest if several), else the latest completed one."""
    done = [i for i in description.get("iterations", []) if i.get("performance")]
    chosen = [i for i in done if i.get("publish_name")] or done
    return chosen[-1] if chosen else None


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
