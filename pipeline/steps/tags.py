"""Step 2: create the tags the dataset needs and the project lacks.

Tag names match case-insensitively: Custom Vision keeps one tag per name whatever its case (a second tag
differing only in case is refused as BadRequestTagNameNotUnique), so a dataset folder `apple` uses the
project's tag `Apple` rather than failing to create a second one."""
from __future__ import annotations

from typing import Any

from pipeline.sdk.errors import TAG_NAME_TAKEN, HttpOperationError, error_code


def existing_tags(trainer: Any, project_id: str) -> dict[str, str]:
    """Tag name -> tag id of the project."""
    return {tag.name: tag.id for tag in trainer.get_tags(project_id)}


def missing_tags(names: list[str], existing: dict[str, str]) -> list[str]:
    """The names the project has no tag for, whatever the case."""
    have = {name.casefold() for name in existing}
    return [name for name in names if name.casefold() not in have]


def ensure_tags(trainer: Any, project_id: str, names: list[str]) -> tuple[dict[str, str], list[str]]:
    """(name -> id for every tag in `names`, the names created now)."""
    tag_ids = existing_tags(trainer, project_id)
    created = []
    for name in names:
        same = _same_name(tag_ids, name)
        if same is not None:
            tag_ids[name] = tag_ids[same]
            continue
        try:
            tag_ids[name] = trainer.create_tag(project_id, name).id
        except HttpOperationError as exc:
            # A create whose answer was lost (and retried) finds the name taken: the tag is there.
            if error_code(exc) != TAG_NAME_TAKEN:
                raise
            tag_ids.update(existing_tags(trainer, project_id))
            same = _same_name(tag_ids, name)
            if same is None:
                raise
            tag_ids[name] = tag_ids[same]
        created.append(name)
    return tag_ids, created


def _same_name(tag_ids: dict[str, str], name: str) -> str | None:
    """The project's tag name equal to `name` (exactly, else case-insensitively)."""
    if name in tag_ids:
        return name
    return next((have for have in tag_ids if have.casefold() == name.casefold()), None)
