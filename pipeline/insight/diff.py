"""What changed between two dataset versions: images added, removed, retagged (and, for object detection, boxes
changed), matched by content, with the counts per tag.

The text form is one change a line, tab-separated, the kind first, so `grep ^retagged` and `cut -f2` work:

    added     apple/apple16.jpg     apple
    removed   banana/banana3.jpg    banana
    retagged  orange/orange2.jpg    apple -> orange
    boxes     kangaroo/k1.jpg       2 -> 3 region(s)
    tag       apple                 15 -> 17    +2 -0
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.insight.manifest import DatasetManifest, ManifestImage

KINDS = ("added", "removed", "retagged", "boxes")


@dataclass(frozen=True)
class Change:
    kind: str  # one of KINDS
    name: str  # the file's path (the newer side's if both have one), else a description of the image
    key: str
    before: tuple[str, ...] = ()  # tags
    after: tuple[str, ...] = ()
    regions: tuple[int, int] | None = None  # boxes before, after

    def line(self) -> str:
        if self.kind == "added":
            what = ", ".join(self.after)
        elif self.kind == "removed":
            what = ", ".join(self.before)
        elif self.kind == "retagged":
            what = f"{', '.join(self.before) or 'untagged'} -> {', '.join(self.after) or 'untagged'}"
        else:
            what = f"{self.regions[0]} -> {self.regions[1]} region(s)"
        return f"{self.kind}\t{self.name}\t{what}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "name": self.name, "key": self.key, "before": list(self.before),
                                "after": list(self.after)}
        if self.regions is not None:
            data["regions"] = list(self.regions)
        return data


@dataclass
class TagChange:
    before: int = 0
    after: int = 0
    added: int = 0  # images that have the tag now and did not before (added images and retags)
    removed: int = 0

    def line(self, tag: str) -> str:
        return f"tag\t{tag}\t{self.before} -> {self.after}\t+{self.added} -{self.removed}"


@dataclass
class DatasetDiff:
    before: DatasetManifest
    after: DatasetManifest
    changes: list[Change] = field(default_factory=list)
    tags: dict[str, TagChange] = field(default_factory=dict)

    def count(self, kind: str) -> int:
        return sum(change.kind == kind for change in self.changes)

    @property
    def same(self) -> bool:
        return self.before.version == self.after.version

    def to_dict(self) -> dict[str, Any]:
        return {"from": _side(self.before), "to": _side(self.after), "same": self.same,
                "counts": {kind: self.count(kind) for kind in KINDS},
                "changes": [c.to_dict() for c in self.changes],
                "tags": {tag: vars(change) for tag, change in self.tags.items()}}


def _side(manifest: DatasetManifest) -> dict[str, Any]:
    return {"version": manifest.version, "images": len(manifest.images), "source": manifest.source,
            "iteration": manifest.iteration}


def compare(before: DatasetManifest, after: DatasetManifest) -> DatasetDiff:
    """Images matched by content key; a file renamed with the same content and tags is no change."""
    old = {image.key: image for image in before.images}
    new = {image.key: image for image in after.images}
    changes = []
    for key in new.keys() - old.keys():
        changes.append(Change("added", _name(new[key]), key, after=_tags(new[key])))
    for key in old.keys() - new.keys():
        changes.append(Change("removed", _name(old[key]), key, before=_tags(old[key])))
    for key in old.keys() & new.keys():
        was, now = old[key], new[key]
        name = _name(now) if now.path else _name(was)
        if set(was.tags) != set(now.tags):
            changes.append(Change("retagged", name, key, _tags(was), _tags(now)))
        elif set(was.regions) != set(now.regions):
            changes.append(Change("boxes", name, key, _tags(was), _tags(now), (len(was.regions), len(now.regions))))
    changes.sort(key=lambda c: (KINDS.index(c.kind), c.name, c.key))
    return DatasetDiff(before, after, changes, _per_tag(before, after, changes))


def _per_tag(before: DatasetManifest, after: DatasetManifest, changes: list[Change]) -> dict[str, TagChange]:
    counts: dict[str, TagChange] = {}
    for tag, n in before.counts().items():
        counts.setdefault(tag, TagChange()).before = n
    for tag, n in after.counts().items():
        counts.setdefault(tag, TagChange()).after = n
    for change in changes:
        for tag in set(change.after) - set(change.before):
            counts[tag].added += 1
        for tag in set(change.before) - set(change.after):
            counts[tag].removed += 1
    return dict(sorted(counts.items()))


def _tags(image: ManifestImage) -> tuple[str, ...]:
    return tuple(sorted(image.tags))


def _name(image: ManifestImage) -> str:
    return image.describe()
