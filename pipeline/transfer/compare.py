"""Both sides of a migration, compared by content: the source's images as exported (hashed as they were
downloaded from it) against the target's, listed and downloaded again after the import and hashed here, each
with its tags (and an object detection image with its regions). Nothing about the target is taken on trust
from the pipeline's own bookkeeping."""
from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

from pipeline.transfer import remote
from pipeline.transfer.download import DownloadFailed, fetch_many
from pipeline.transfer.folder import ExportedImage

LISTED = 20  # files named per kind of difference


def remote_contents(trainer: Any, project_id: str, workers: int = 8,
                    regions: dict[str, list[dict]] | None = None) -> tuple[dict[str, list[str]], list[str]]:
    """({sha256: tags} of every image of the project, the ids of images whose bytes could not be fetched);
    `regions`, when given, gets {sha256: regions} (remote.regions_of) of the same images."""
    contents: dict[str, list[str]] = {}
    unread = []
    for image, data in fetch_many(remote.all_images(trainer, project_id), workers):
        if isinstance(data, DownloadFailed):
            unread.append(f"{image.id}: {data}")
        else:
            sha = hashlib.sha256(data).hexdigest()
            contents[sha] = remote.tag_names(image)
            if regions is not None:
                regions[sha] = remote.regions_of(image)
    return contents, unread


def compare(source: list[ExportedImage], target: dict[str, list[str]], unread: list[str],
            regions: dict[str, list[dict]] | None = None) -> dict[str, Any]:
    """Counts and hashes on both sides, and the files that differ (by their path in the export): by tags, and
    by regions when the target's (`regions`) are given."""
    source_tags = {image.sha256: sorted(image.tags) for image in source}
    missing = [image.path for image in source if image.sha256 not in target]
    differ = [f"{image.path}: {', '.join(sorted(image.tags)) or 'untagged'} -> "
              f"{', '.join(target[image.sha256]) or 'untagged'}"
              for image in source if image.sha256 in target and sorted(target[image.sha256]) != sorted(image.tags)]
    boxes = [f"{image.path}: {len(image.regions)} region(s) -> {len(regions[image.sha256])} region(s)"
             if len(image.regions) != len(regions[image.sha256]) else f"{image.path}: regions moved"
             for image in source if regions is not None and image.sha256 in regions
             and not remote.same_regions(image.regions, regions[image.sha256])]
    only_target = len(set(target) - set(source_tags))
    return {"equal": not missing and not differ and not boxes and not unread,
            "source": _side(source_tags), "target": _side(target),
            "missing_on_target": len(missing), "tags_differ": len(differ), "regions_differ": len(boxes),
            "only_on_target": only_target, "unreadable_on_target": len(unread),
            "examples": {"missing_on_target": missing[:LISTED], "tags_differ": differ[:LISTED],
                         "regions_differ": boxes[:LISTED], "unreadable_on_target": unread[:LISTED]}}


def _side(contents: dict[str, list[str]]) -> dict[str, Any]:
    counts = Counter(tag for tags in contents.values() for tag in tags)
    return {"images": len(contents), "untagged": sum(1 for tags in contents.values() if not tags),
            "tags": dict(sorted(counts.items())),
            "content_sha256": hashlib.sha256("".join(sorted(contents)).encode()).hexdigest()}
