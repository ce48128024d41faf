"""Step 3b, after the upload: make the project's images match the dataset, as far as `dataset.sync` says.

- `add-only`: upload what is missing; images tagged otherwise in the project, and images only in the project,
  are left alone (and reported).
- `retag` (default): also give every dataset image in the project the dataset's tags (relabels in git reach the
  model). Images only in the project are left alone (and reported).
- `mirror`: also delete the images the dataset no longer has, within a safety limit (`dataset.max_delete`,
  else the larger of 10 images and 10% of the project; `--allow-mass-delete` lifts it).

An object detection dataset's images are compared by their boxes instead of their tags: `retag` and `mirror`
update the regions that differ (regions.py), `add-only` leaves them (and reports them).

A tag that the sync empties and the dataset no longer names is deleted (training refuses an empty tag).
Which project image is which dataset file comes from `image_map` (content hashes kept in image metadata)."""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

from pipeline.dataset import Dataset, DatasetImage
from pipeline.errors import MassDeleteRefused, ServiceError
from pipeline.steps import image_map
from pipeline.steps import regions as region_sync
from pipeline.steps.regions import ProjectRegion, RegionChange, listed_regions
from pipeline.steps.upload import project_images

DEFAULT_DELETE_SHARE, DEFAULT_DELETE_MIN = 0.10, 10
DELETE_PAGE = 256  # delete_images: image ids a call
TAG_IDS_PER_CALL, IMAGE_IDS_PER_CALL, TAG_ENTRIES_PER_CALL = 20, 64, 64  # delete_image_tags, create_image_tags


@dataclass
class ProjectImage:
    id: str
    tags: dict[str, str]  # tag id -> tag name
    hash_key: str | None  # None: no cvops record (another tool's image, or a record that was lost)
    file: str | None = None  # the file name older cvops versions recorded
    regions: list[ProjectRegion] = field(default_factory=list)  # object detection

    def describe(self) -> str:
        tags = ", ".join(sorted(self.tags.values())) or "untagged"
        return f"{self.file} ({tags}; image {self.id})" if self.file else f"image {self.id} ({tags})"


@dataclass
class ProjectState:
    """The project's images as listed, and what their metadata says about them."""

    listed: list[Any]  # SDK images
    identities: image_map.Identities
    images: list[ProjectImage]
    metadata: dict[str, dict[str, str]]  # image id -> its metadata pairs (kept up to date by upload)


def read_project(trainer: Any, project_id: str) -> ProjectState:
    """List every image (256 a call) and read the map back."""
    listed = project_images(trainer, project_id)
    identities = image_map.identify((image.id, image.metadata) for image in listed)
    images = [ProjectImage(image.id, {t.tag_id: t.tag_name for t in (image.tags or [])},
                           identities.by_image.get(image.id), (image.metadata or {}).get(image_map.FILE_KEY),
                           listed_regions(image))
              for image in listed]
    return ProjectState(listed, identities, images, {image.id: dict(image.metadata or {}) for image in listed})


@dataclass
class Retag:
    file: str
    image_id: str
    add: list[str]  # tag names the image gains
    remove: dict[str, str]  # tag id -> name of the tags it loses
    before: list[str]  # its tags in the project now

    def describe(self) -> str:
        after = sorted((set(self.before) - set(self.remove.values())) | set(self.add))
        return f"{self.file}: {', '.join(sorted(self.before)) or 'untagged'} -> {', '.join(after)}"


@dataclass
class SyncPlan:
    mode: str
    to_upload: list[DatasetImage]
    present: list[DatasetImage]  # already in the project (with the same or other tags)
    retag: list[Retag]  # in the project with other tags than the dataset's
    only_in_project: list[ProjectImage]  # recorded by cvops, no longer in the dataset
    unrecognised: list[ProjectImage]  # no record: dataset images whose record was lost, or not cvops' images
    images: list[ProjectImage] = field(default_factory=list)  # every project image compared
    regions: list[RegionChange] = field(default_factory=list)  # object detection: boxes that differ

    @property
    def retags(self) -> bool:
        return self.mode != "add-only"

    @property
    def deletes(self) -> bool:
        return self.mode == "mirror"

    def to_delete(self) -> list[ProjectImage]:
        """After the upload (every dataset image then has its id), the images `mirror` deletes."""
        return self.only_in_project + self.unrecognised if self.deletes else []

    def summary(self, limit: int, project_images: int, listed: int = 1000) -> dict[str, Any]:
        """What the sync does in its mode and what it leaves alone, with counts and names (plan, report)."""
        deletions = len(self.to_delete())
        return {"mode": self.mode,
                "retag": {"count": len(self.retag), "applied": self.retags,
                          "files": [r.describe() for r in self.retag[:listed]]},
                "only_in_project": {"count": len(self.only_in_project), "deleted": self.deletes,
                                    "images": [i.describe() for i in self.only_in_project[:listed]]},
                # No record: the upload tells which are dataset images (OKDuplicate); the others are not.
                "unrecognised": {"count": len(self.unrecognised),
                                 "may_be_dataset_images": min(len(self.unrecognised), len(self.to_upload)),
                                 "images": [i.describe() for i in self.unrecognised[:listed]]},
                "delete": {"count": deletions, "limit": limit, "over_limit": deletions > limit,
                           "project_images": project_images},
                "regions": {"images": len(self.regions), "applied": self.retags,
                            "create": sum(len(c.create) for c in self.regions),
                            "delete": sum(len(c.delete) for c in self.regions),
                            "removed": sum(c.removed for c in self.regions),
                            "files": [c.describe() for c in self.regions[:listed]]}}

    def changes(self) -> str | None:
        """What the sync changes that needs a training (None: nothing)."""
        parts = []
        if self.retags and self.retag:
            parts.append(f"{len(self.retag)} image(s) retagged")
        if self.retags and self.regions:
            parts.append(f"regions of {len(self.regions)} image(s) updated")
        if self.deletes and (self.only_in_project or self.unrecognised):
            parts.append(f"{len(self.only_in_project) + len(self.unrecognised)} image(s) deleted")
        return ", ".join(parts) or None


def diff(dataset: Dataset, images: list[ProjectImage], mode: str, name: Callable[[DatasetImage], str]) -> SyncPlan:
    """Compare the dataset with the project's images (by content hash key)."""
    by_key: dict[str, ProjectImage] = {}
    for image in images:
        if image.hash_key is not None:
            by_key.setdefault(image.hash_key, image)
    to_upload, present, retag, wanted, boxes = [], [], [], set(), []
    for item in dataset.images:
        key = image_map.hash_key(item.sha256)
        wanted.add(key)
        there = by_key.get(key)
        if there is None:
            to_upload.append(item)
            continue
        present.append(item)
        if item.regions is not None:
            changed = region_sync.change(name(item), there.id, item.regions, there.regions)
            boxes += [changed] if changed else []
            continue
        have = set(there.tags.values())
        if have != set(item.tags):
            retag.append(Retag(name(item), there.id, sorted(set(item.tags) - have),
                               {tid: n for tid, n in there.tags.items() if n not in item.tags}, sorted(have)))
    only = [im for im in images if im.hash_key is not None
            and (im.hash_key not in wanted or by_key[im.hash_key] is not im)]  # a second copy counts as extra
    unknown = [im for im in images if im.hash_key is None]
    return SyncPlan(mode, to_upload, present, retag, only, unknown, images, boxes)


def after_upload(dataset: Dataset, listed: list[ProjectImage], uploaded: dict[str, Any], tag_ids: dict[str, str],
                 mode: str, name: Callable[[DatasetImage], str]) -> SyncPlan:
    """The plan again once the upload has given every dataset image its id (new ones, and OKDuplicates that
    were not recognised before). Tags as the upload's answer shows them, else as listed, else as sent."""
    names = {tid: n for n, tid in tag_ids.items()}
    by_id = {image.id: image for image in listed}
    tags_sent = {item.sha256: item.tags for item in dataset.images}
    for sha, image in uploaded.items():
        before = by_id.get(image.id)
        if image.tags is not None:
            tags = {t.tag_id: t.tag_name for t in image.tags}
        elif before is not None:
            tags = before.tags
        else:
            tags = {tag_ids[n]: n for n in tags_sent.get(sha, ())}
        regions = listed_regions(image) if getattr(image, "regions", None) is not None \
            else before.regions if before else []
        by_id[image.id] = ProjectImage(image.id, {t: names.get(t, n) for t, n in tags.items()},
                                       image_map.hash_key(sha), before.file if before else None, regions)
    return diff(dataset, list(by_id.values()), mode, name)


def delete_limit(max_delete: int | None, project_images: int) -> int:
    """How many images one run may delete: the config's, else the larger of 10 and 10% of the project."""
    if max_delete is not None:
        return max_delete
    return max(DEFAULT_DELETE_MIN, math.ceil(project_images * DEFAULT_DELETE_SHARE))


def check_delete_limit(count: int, limit: int, allow_mass_delete: bool, project_images: int) -> None:
    """Refuse (exit 2, nothing deleted) a deletion over the limit, unless allowed."""
    if count > limit and not allow_mass_delete:
        raise MassDeleteRefused(
            f"dataset.sync is mirror and {count} of the project's {project_images} images are not in the dataset: "
            f"that is more than {limit} (dataset.max_delete; by default the larger of {DEFAULT_DELETE_MIN} images "
            f"and {DEFAULT_DELETE_SHARE:.0%} of the project), so nothing was retagged or deleted. Check "
            "dataset.path; if the deletion is meant, raise dataset.max_delete or pass --allow-mass-delete")


@dataclass
class SyncResult:
    retagged: list[str] = field(default_factory=list)
    regions: region_sync.RegionResult = field(default_factory=region_sync.RegionResult)
    deleted: list[str] = field(default_factory=list)
    tags_deleted: list[str] = field(default_factory=list)
    calls: int = 0
    deleted_ids: set[str] = field(default_factory=set)


def apply(trainer: Any, project_id: str, plan: SyncPlan, tag_ids: dict[str, str],
          dataset_tags: list[str]) -> SyncResult:
    """Retag and delete as the plan's mode says; then delete the tags it emptied that the dataset lacks."""
    result = SyncResult()
    if plan.retags and plan.retag:
        result.calls += _retag(trainer, project_id, plan.retag, tag_ids)
        result.retagged = [r.describe() for r in plan.retag]
    if plan.retags and plan.regions:
        result.regions = region_sync.apply(trainer, project_id, plan.regions, tag_ids)
        result.calls += result.regions.calls
    doomed = plan.to_delete()
    if doomed:
        ids = [image.id for image in doomed]
        for start in range(0, len(ids), DELETE_PAGE):
            trainer.delete_images(project_id, image_ids=ids[start:start + DELETE_PAGE])
            result.calls += 1
        result.deleted = [image.describe() for image in doomed]
        result.deleted_ids = set(ids)
    if result.retagged or result.deleted or result.regions.updated:
        for tag_id, tag_name in _emptied(plan, result.deleted_ids, set(dataset_tags)):
            trainer.delete_tag(project_id, tag_id)
            result.calls += 1
            result.tags_deleted.append(tag_name)
    return result


def _retag(trainer: Any, project_id: str, retags: list[Retag], tag_ids: dict[str, str]) -> int:
    """Remove first, then add: a run stopped in between leaves untagged images that the next run retags."""
    from azure.cognitiveservices.vision.customvision.training.models import ImageTagCreateEntry

    calls = 0
    losing: dict[tuple[str, ...], list[str]] = defaultdict(list)  # the same tags removed -> one call
    for r in retags:
        if r.remove:
            losing[tuple(sorted(r.remove))].append(r.image_id)
    for tags, ids in losing.items():
        for i in range(0, len(ids), IMAGE_IDS_PER_CALL):
            for j in range(0, len(tags), TAG_IDS_PER_CALL):
                trainer.delete_image_tags(project_id, ids[i:i + IMAGE_IDS_PER_CALL], list(tags[j:j + TAG_IDS_PER_CALL]))
                calls += 1
    entries = [ImageTagCreateEntry(image_id=r.image_id, tag_id=tag_ids[n]) for r in retags for n in r.add]
    for start in range(0, len(entries), TAG_ENTRIES_PER_CALL):
        summary = trainer.create_image_tags(project_id, tags=entries[start:start + TAG_ENTRIES_PER_CALL])
        calls += 1
        exceeded = getattr(summary, "exceeded", None) or []
        if exceeded:
            raise ServiceError(f"the service refused {len(exceeded)} image tag(s) as over its limits "
                               "(at most 100 tags an image)")
    return calls


def _emptied(plan: SyncPlan, deleted: set[str], wanted: set[str]) -> list[tuple[str, str]]:
    """Tags that had images before the sync, have none after it, and that the dataset does not name."""
    images = plan.images
    after = {image.id: dict(image.tags) for image in images if image.id not in deleted}
    if plan.retags:
        for r in plan.retag:
            if r.image_id in after:
                for tag_id in r.remove:
                    after[r.image_id].pop(tag_id, None)
        ids = {n: tid for image in images for tid, n in image.tags.items()}
        for c in plan.regions:  # an object detection image's tags are its regions'
            if c.image_id in after:
                gone = {r.id for r in c.delete}
                kept = [r.tag for image in images if image.id == c.image_id for r in image.regions if r.id not in gone]
                after[c.image_id] = {ids.get(n, n): n for n in kept + [r.tag for r in c.create]}
    before_names = {tid: n for image in images for tid, n in image.tags.items()}
    still = {tid for tags in after.values() for tid in tags}
    return sorted(((tid, n) for tid, n in before_names.items() if tid not in still and n not in wanted),
                  key=lambda t: t[1])
