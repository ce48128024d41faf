"""One image's detected boxes matched to its labelled boxes, as Custom Vision's object detection metrics match them
(the service's own: cvlocal/model/detection/metrics.py), then the tag confusions among what is left.

- Only detections with a probability at or above the threshold count.
- Matching: most probable first (ties in the order given), each detection takes the unmatched labelled box of
  its own tag that it overlaps most, when that IoU is >= the overlap threshold. A matched detection is a true
  positive; a labelled box no detection took is missed (a false negative); a detection that took none is a
  false positive.
- Confusion: then the false positives, most probable first, each take the missed box of another tag that they
  overlap most, at the same IoU. A missed box of tag A taken by a detection of tag B is one A -> B confusion.
  One to one: a box is confused once, however many wrong detections sit on it, and a detection confuses one box.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from pipeline.insight.boxes import Box


@dataclass(frozen=True)
class ImageMatching:
    counted: tuple[int, ...]  # detections at or above the threshold, most probable first
    matched: dict[int, int]  # detection -> the labelled box of its tag it matched
    confused: dict[int, int]  # detection (a false positive) -> the missed labelled box of another tag it overlaps

    def missed(self, regions: int) -> list[int]:
        return sorted(set(range(regions)) - set(self.matched.values()))

    def false_positives(self) -> list[int]:
        return [d for d in self.counted if d not in self.matched]


def match(regions: Sequence[Box], detections: Sequence[Box], threshold: float, overlap: float) -> ImageMatching:
    counted = sorted((i for i, d in enumerate(detections) if d.probability >= threshold),
                     key=lambda i: -detections[i].probability)  # sorted() is stable: ties keep their order
    matched = _greedy(counted, regions, detections, overlap, set(), same_tag=True)
    missed_or_taken = set(matched.values())
    confused = _greedy([d for d in counted if d not in matched], regions, detections, overlap, missed_or_taken,
                       same_tag=False)
    return ImageMatching(tuple(counted), matched, confused)


def _greedy(order: list[int], regions: Sequence[Box], detections: Sequence[Box], overlap: float,
            taken: set[int], same_tag: bool) -> dict[int, int]:
    found: dict[int, int] = {}
    for d in order:
        detection = detections[d]
        best, best_iou = None, -1.0
        for r, region in enumerate(regions):  # the first of equal overlaps, as numpy's argmax picks
            if r in taken or (region.tag == detection.tag) != same_tag:
                continue
            iou = detection.iou(region)
            if iou > best_iou:
                best, best_iou = r, iou
        if best is not None and best_iou >= overlap:
            found[d] = best
            taken.add(best)
    return found
