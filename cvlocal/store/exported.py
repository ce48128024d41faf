"""An exported project as a document: the project snapshot format, versioned.

One format, two uses: an export keeps its parts in its row (store/sql/project_exports.py), and the exporting
service hands the whole document to another service that imports the export (api/downloads.py). `parse` reads
it back as input it does not trust: every field is checked, and a format or version it does not know is
refused, so a newer exporter's document is never half-understood.

    {"format": "cvlocal-project", "version": 1,
     "project": {"name", "description", "domainId", "classificationType", "targetExportPlatforms"},
     "tags":    [{"key", "name", "description", "type", "created"}],
     "images":  [{"sha256", "width", "height", "size", "metadata", "created", "tags": [key, ...],
                  "regions": [{"tag": key, "left", "top", "width", "height"}]}]}

Images are named by the SHA-256 of their bytes (the bytes travel apart: the exporter's blob store, or its
signed image route), tags by a key (their id in the exported project). Version 1 has `regions` from the start,
empty until object detection lands, so detection adds rows, not a format.
"""
from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from .records import ExportedImage, ExportedProject, ExportedRegion, ExportedTag

FORMAT = "cvlocal-project"
VERSION = 1
MAX_NAME = 256            # Custom Vision's limit on project and tag names (api/schemas/common.py)
MAX_DESCRIPTION = 4096

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME)]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION)]
Digest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Key = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class DocumentInvalid(ValueError):
    """Not an exported project this service can read; the message says what is wrong."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, strict=False)


class _Project(_Part):
    name: Name
    description: Description = ""
    domain_id: str = Field(alias="domainId")
    classification_type: str = Field(alias="classificationType", pattern="^(Multiclass|Multilabel)$")
    target_export_platforms: list[str] = Field(alias="targetExportPlatforms", default_factory=list)


class _Tag(_Part):
    key: Key
    name: Name
    description: Description | None = None
    type: str = Field(default="Regular", pattern="^(Regular|Negative|GeneralProduct)$")
    created: str


class _Region(_Part):
    tag: Key
    left: Unit
    top: Unit
    width: Unit
    height: Unit


class _Image(_Part):
    sha256: Digest
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    size: int = Field(ge=1)
    metadata: dict[str, str] = Field(default_factory=dict)
    created: str
    tags: list[Key] = Field(default_factory=list)
    regions: list[_Region] = Field(default_factory=list)


class _Document(_Part):
    format: str
    version: int
    project: _Project
    tags: list[_Tag]
    images: list[_Image]

    @model_validator(mode="after")
    def _consistent(self) -> "_Document":
        keys = [t.key for t in self.tags]
        if len(set(keys)) != len(keys) or len({t.name for t in self.tags}) != len(keys):
            raise ValueError("two tags share a key or a name")
        known = set(keys)
        if len({i.sha256 for i in self.images}) != len(self.images):
            raise ValueError("an image is listed twice")
        for image in self.images:
            if not known.issuperset(image.tags) or not known.issuperset(r.tag for r in image.regions):
                raise ValueError(f"image {image.sha256} names a tag the document does not list")
        return self


def project_part(project: ExportedProject) -> dict[str, Any]:
    return {"name": project.name, "description": project.description, "domainId": project.domain_id,
            "classificationType": project.classification_type,
            "targetExportPlatforms": list(project.target_export_platforms)}


def tags_part(project: ExportedProject) -> list[dict[str, Any]]:
    return [{"key": t.key, "name": t.name, "description": t.description, "type": t.type, "created": t.created}
            for t in project.tags]


def images_part(project: ExportedProject) -> list[dict[str, Any]]:
    return [{"sha256": i.sha256, "width": i.width, "height": i.height, "size": i.size, "metadata": dict(i.metadata),
             "created": i.created, "tags": list(i.tag_keys),
             "regions": [{"tag": r.tag_key, "left": r.left, "top": r.top, "width": r.width, "height": r.height}
                         for r in i.regions]}
            for i in project.images]


def document(project: ExportedProject) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "project": project_part(project), "tags": tags_part(project),
            "images": images_part(project)}


def parse(value: Any) -> ExportedProject:
    """The exported project a document describes (DocumentInvalid: what is wrong with it)."""
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise DocumentInvalid("not an exported cvlocal project")
    if value.get("version") != VERSION:
        raise DocumentInvalid(f"an exported project of format version {value.get('version')!r}; this service reads "
                              f"version {VERSION} (import it with the release that exported it, or a newer one)")
    try:
        doc = _Document.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "document"
        raise DocumentInvalid(f"the exported project is malformed ({where}: {first.get('msg')})") from None
    p = doc.project
    return ExportedProject(
        name=p.name, description=p.description, domain_id=p.domain_id, classification_type=p.classification_type,
        target_export_platforms=tuple(p.target_export_platforms),
        tags=tuple(ExportedTag(t.key, t.name, t.description, t.type, t.created) for t in doc.tags),
        images=tuple(ExportedImage(i.sha256, i.width, i.height, i.size, i.metadata, i.created, tuple(i.tags),
                                   tuple(ExportedRegion(r.tag, r.left, r.top, r.width, r.height) for r in i.regions))
                     for i in doc.images))


def from_parts(version: int, project: str, tags: str, images: str) -> ExportedProject:
    """An export's row read back (its columns hold the version and the parts as JSON)."""
    return parse({"format": FORMAT, "version": version, "project": json.loads(project), "tags": json.loads(tags),
                  "images": json.loads(images)})
