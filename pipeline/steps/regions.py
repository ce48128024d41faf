"""Step 3b for object detection: give every dataset image in the project the dataset's boxes, with region calls
(never a re-upload). A box is the same when its tag and coordinates agree to 1e-6; each image's difference is
its project regions to delete and its dataset boxes to create, described as boxes moved, relabelled, added and
removed. Deletes go first, then creates (a run stopped in between leaves boxes missing, which the next run
creates), each batched at Azure's 64 a call, so a changed box costs two requests whatever the project's size.

Boxes removed outright (not moved or relabelled) count against the mass-delete limit, as images do: the larger
of 10 and 10% of the project's regions, or `dataset.max_delete`; `--allow-mass-delete` lifts it."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pipeline.dataset.regions import Region
from pipeline.errors import MassDeleteRefused, ServiceError

PER_CALL = 64  # create_image_regions entries, delete_image_regions ids (Azure's limit, the SDK's docstring)
DEFAULT_DELETE_SHARE, DEFAULT_DELETE_MIN = 0.10, 10


@dataclass(frozen=True)
class ProjectRegion:
    """A region as the project has it."""

    id: str
    tag: str
    left: float
    top: float
    width: float
    height: float

    def as_region(self) -> Region:
        return Region(self.tag, self.left, self.top, self.width, self.height)


def listed_regions(image: Any) -> list[ProjectRegion]:
    """The regions of an SDK Image (get_images, an upload's answer)."""
    return [ProjectRegion(r.region_id, r.tag_name or "", r.left, r.top, r.width, r.height)
            for r in (getattr(image, "regions", None) or [])]


@dataclass
class RegionChange:
    """One image whose regions differ from its dataset boxes."""

    file: str
    image_id: str
    create: list[Region]
    delete: list[ProjectRegion]

    @property
    def removed(self) -> int:
        """Boxes lost outright: deletions not made up by a creation."""
        return max(0, len(self.delete) - len(self.create))

    def kinds(self) -> Counter:
        """relabelled (a deletion and a creation at the same place), moved (of the same tag), added, removed."""
        creates, deletes, kinds = list(self.create), list(self.delete), Counter()
        for kind, pairs in (("relabelled", lambda old, new: new.same_box(Region(new.tag, *_box(old)))),
                            ("moved", lambda old, new: new.tag.casefold() == old.tag.casefold())):
            for old in list(deletes):
                match = next((new for new in creates if pairs(old, new)), None)
                if match is not None:
                    creates.remove(match)
                    deletes.remove(old)
                    kinds[kind] += 1
        kinds["added"], kinds["removed"] = len(creates), len(deletes)
        return +kinds

    def describe(self) -> str:
        return f"{self.file}: " + ", ".join(f"{n} box{'es' * (n != 1)} {kind}" for kind, n in self.kinds().items())


def _box(region: ProjectRegion) -> tuple[float, float, float, float]:
    return (region.left, region.top, region.width, region.height)


def change(file: str, image_id: str, wanted: tuple[Region, ...], have: list[ProjectRegion]) -> RegionChange | None:
    """What turns `have` into `wanted` (None: the same boxes)."""
    left = list(have)
    create = []
    for region in wanted:
        match = next((h for h in left if region.same_box(h.as_region())), None)
        if match is None:
            create.append(region)
        else:
            left.remove(match)
    return RegionChange(file, image_id, create, left) if create or left else None


def delete_limit(max_delete: int | None, project_regions: int) -> int:
    if max_delete is not None:
        return max_delete
    return max(DEFAULT_DELETE_MIN, math.ceil(project_regions * DEFAULT_DELETE_SHARE))


def check_delete_limit(changes: list[RegionChange], limit: int, allow_mass_delete: bool, project_regions: int) -> None:
    """Refuse (exit 2, nothing changed) removing more boxes than the limit, unless allowed."""
    removed = sum(c.removed for c in changes)
    if removed > limit and not allow_mass_delete:
        raise MassDeleteRefused(
            f"the sync would remove {removed} of the project's {project_regions} regions (boxes the dataset no "
            f"longer has): that is more than {limit} (dataset.max_delete; by default the larger of "
            f"{DEFAULT_DELETE_MIN} and {DEFAULT_DELETE_SHARE:.0%} of the project's regions), so nothing was "
            "changed. Check the dataset's annotations; if it is meant, raise dataset.max_delete or pass "
            "--allow-mass-delete")


@dataclass
class RegionResult:
    updated: list[str] = field(default_factory=list)  # one line an image
    created: int = 0
    deleted: int = 0
    calls: int = 0


def apply(trainer: Any, project_id: str, changes: list[RegionChange], tag_ids: dict[str, str]) -> RegionResult:
    """Delete, then create, in batches of 64."""
    from azure.cognitiveservices.vision.customvision.training.models import ImageRegionCreateEntry

    result = RegionResult()
    doomed = [r.id for c in changes for r in c.delete]
    for start in range(0, len(doomed), PER_CALL):
        trainer.delete_image_regions(project_id, doomed[start:start + PER_CALL])
        result.calls += 1
    folded = {name.casefold(): tag_id for name, tag_id in tag_ids.items()}
    entries = [ImageRegionCreateEntry(image_id=c.image_id, tag_id=folded[r.tag.casefold()], left=r.left, top=r.top,
                                      width=r.width, height=r.height) for c in changes for r in c.create]
    for start in range(0, len(entries), PER_CALL):
        summary = trainer.create_image_regions(project_id, regions=entries[start:start + PER_CALL])
        result.calls += 1
        exceeded = getattr(summary, "exceeded", None) or []
        if exceeded:
            raise ServiceError(f"the service refused {len(exceeded)} region(s) as over its limit (at most 300 "
                               "regions an image)")
    result.deleted, result.created = len(doomed), len(entries)
    result.updated = [c.describe() for c in changes]
    return result
