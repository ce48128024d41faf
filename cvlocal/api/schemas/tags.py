"""Tags on the wire."""
from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from ... import errors
from ...store.records import TagRecord
from .common import MAX_NAME, Wire, name_of
from .projects import description_of

TAG_TYPES = ("Regular", "Negative", "GeneralProduct")


def _tag_name(name: str | None) -> str | None:
    """Stripped; an empty name in an update leaves the name as it is."""
    if name is None:
        return None
    name = name.strip()
    if len(name) > MAX_NAME:
        raise errors.bad_request(f"A tag name must be 1 to {MAX_NAME} characters.", "BadRequestTagName")
    return name




def _tag_type(value: str | None) -> str | None:
    if value and value not in TAG_TYPES:
        raise errors.bad_request(f"Unknown tag type '{value}'; use one of {', '.join(TAG_TYPES)}.",
                                 "BadRequestTagType")
    return value or None


TagName = Annotated[str | None, AfterValidator(_tag_name)]
TagDescription = Annotated[str | None, description_of("BadRequestTagDescription")]
TagType = Annotated[str | None, AfterValidator(_tag_type)]


class TagQuery(Wire):
    """get_tags / get_tag: `iterationId` gives the tags as that iteration trained on them."""
    iteration_id: str | None = None


class TagCreate(Wire):
    """create_tag's query."""
    name: Annotated[str, name_of("A tag", "BadRequestTagName")] = ""
    description: TagDescription = None
    type: TagType = None


class TagUpdate(Wire):
    """update_tag's body (the Tag; id and imageCount are read-only)."""
    name: TagName = None
    description: TagDescription = None
    type: TagType = None


class Tag(Wire):
    id: str
    name: str
    description: str | None
    type: str
    image_count: int

    @classmethod
    def of(cls, tag: TagRecord) -> "Tag":
        return cls(id=tag.id, name=tag.name, description=tag.description, type=tag.type, image_count=tag.image_count)
