"""Step 2: create the tags the dataset needs and the project lacks."""
from __future__ import annotations

from typing import Any

from pipeline.sdk.errors import TAG_NAME_TAKEN, HttpOperationError, error_code


def existing_tags(trainer: Any, project_id: str) -> dict[str, str]:
    """Tag name -> tag id of the project."""
    return {tag.name: tag.id for tag in trainer.get_tags(project_id)}


def ensure_tags(trainer: Any, project_id: str, names: list[str]) -> tuple[dict[str, str], list[str]]:
    """(name -> id for every tag in `names`, the names created now)."""
    tag_ids = existing_tags(trainer, project_id)
    created = []
    for name in names:
        if name in tag_ids:
            continue
        try:
            tag_ids[name] = trainer.create_tag(project_id, name).id
        except HttpOperationError as exc:
            # A create whose answer was lost (and retried) finds the name taken: the tag is there.
            if error_code(exc) != TAG_NAME_TAKEN:
                raise
            tag_ids.update(existing_tags(trainer, project_id))
            if name not in tag_ids:
                raise
        created.append(name)
    return tag_ids, created
