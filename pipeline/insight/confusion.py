"""Which tags the model confuses: the confusion matrix of an iteration's held-out predictions.

Classification. Rows are the tag an image was given, columns the tag it was predicted as:
- Multiclass: its most probable tag (whatever the threshold: every image lands in one cell).
- Multilabel: every tag at or above the probability threshold; each given tag that is among them is a hit
  (the diagonal), and each predicted tag that was not given counts once against every given tag (off the
  diagonal), so a row may add up to more than its images.
Per tag: TP (given and predicted), FN (given, not predicted), FP (predicted, not given). A pair (given A,
predicted B) is confused at the rate count / images given A; pairs are listed highest rate first (then most
images), so the worst pair is the first.

Object detection fills the same report with boxes instead of images (matching.py says how boxes match): per tag
its labelled boxes, TP (matched by a detection of the tag at the probability threshold and the overlap
threshold), FN (missed) and FP (detections that matched none). A pair (given A, predicted B) counts the missed
boxes of A that a false positive of B overlaps (IoU >= the overlap threshold), at the rate count / boxes of A.
The matrix holds the true positives on its diagonal and these confusions off it; what is missed with nothing
wrong on it, and false positives on no missed box (background), are in FN and FP only."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.insight.boxes import HeldOutBoxes
from pipeline.insight.heldout import HeldOutImage
from pipeline.insight.matching import match

TOP_PAIRS = 20  # pairs that a console, a Markdown report and a job summary show (the JSON has them all)
PLURAL = {"image": "image(s)", "box": "box(es)"}
KEY = {"image": "images", "box": "boxes"}  # a pair's count in JSON


@dataclass
class TagCounts:
    images: int = 0  # given the tag
    tp: int = 0
    fp: int = 0
    fn: int = 0


@dataclass
class BoxCounts:
    boxes: int = 0  # labelled with the tag
    tp: int = 0
    fp: int = 0
    fn: int = 0


@dataclass(frozen=True)
class ConfusedPair:
    given: str
    predicted: str
    count: int  # images (object detection: boxes) given `given` and predicted as `predicted`
    rate: float  # count / images (boxes) given `given`
    unit: str = "image"  # or "box"

    def describe(self) -> str:
        return f"{self.given} -> {self.predicted}: {self.counted()}, {self.rate:.1%} of {self.given}"

    def counted(self) -> str:
        return f"{self.count} {PLURAL[self.unit]}"

    def to_dict(self) -> dict[str, Any]:
        return {"given": self.given, "predicted": self.predicted, KEY[self.unit]: self.count, "rate": self.rate}


@dataclass
class Confusion:
    kind: str  # "classification" or "detection"
    rule: str  # how an image counts as predicted as a tag
    tags: list[str]
    matrix: list[list[int]]  # [given][predicted], in `tags` order
    per_tag: dict[str, TagCounts] | dict[str, BoxCounts]
    pairs: list[ConfusedPair]  # off the diagonal, worst first
    images: int
    threshold: float | None = None
    overlap_threshold: float | None = None  # object detection
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def worst(self) -> ConfusedPair | None:
        return self.pairs[0] if self.pairs else None

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        """Everything (the full matrix) unless `top` limits the pairs listed."""
        data = {"kind": self.kind, "rule": self.rule, "images": self.images, "threshold": self.threshold,
                "unit": "box" if self.kind == "detection" else "image",
                "tags": self.tags, "per_tag": {t: asdict(c) for t, c in self.per_tag.items()},
                "pairs": [p.to_dict() for p in (self.pairs if top is None else self.pairs[:top])],
                "pairs_total": len(self.pairs), "matrix": self.matrix, **self.extra}
        if self.overlap_threshold is not None:
            data["overlap_threshold"] = self.overlap_threshold
        return data


def classification(images: list[HeldOutImage], tags: list[str], multilabel: bool,
                   threshold: float = 0.5) -> Confusion:
    index = {tag: i for i, tag in enumerate(tags)}
    matrix = [[0] * len(tags) for _ in tags]
    counts = {tag: TagCounts() for tag in tags}
    for image in images:
        given = [t for t in image.given if t in index]
        predicted = ({t for t, p in image.probabilities.items() if p >= threshold and t in index} if multilabel
                     else {image.top} if image.top in index else set())
        for g in given:
            counts[g].images += 1
            if g in predicted:
                counts[g].tp += 1
                matrix[index[g]][index[g]] += 1
            else:
                counts[g].fn += 1
        for p in predicted - set(given):
            counts[p].fp += 1
            for g in given:
                matrix[index[g]][index[p]] += 1
    pairs = _pairs(matrix, index, {tag: c.images for tag, c in counts.items()}, "image")
    rule = (f"every tag with a probability >= {threshold:g}" if multilabel else "the most probable tag")
    return Confusion("classification", rule, list(tags), matrix, counts, pairs, len(images),
                     threshold if multilabel else None)


def detection(images: list[HeldOutBoxes], tags: list[str], threshold: float, overlap: float) -> Confusion:
    index = {tag: i for i, tag in enumerate(tags)}
    matrix = [[0] * len(tags) for _ in tags]
    counts = {tag: BoxCounts() for tag in tags}
    for image in images:
        regions = [r for r in image.regions if r.tag in index]
        detections = [d for d in image.predictions if d.tag in index]
        found = match(regions, detections, threshold, overlap)
        for region in regions:
            counts[region.tag].boxes += 1
        for d, r in found.matched.items():
            counts[detections[d].tag].tp += 1
            matrix[index[regions[r].tag]][index[regions[r].tag]] += 1
        for r in found.missed(len(regions)):
            counts[regions[r].tag].fn += 1
        for d in found.false_positives():
            counts[detections[d].tag].fp += 1
        for d, r in found.confused.items():
            matrix[index[regions[r].tag]][index[detections[d].tag]] += 1
    rule = (f"boxes with a probability >= {threshold:g} matched to a labelled box at an overlap (IoU) >= "
            f"{overlap:g}, most probable first; a missed box under a wrong tag's box is confused")
    return Confusion("detection", rule, list(tags), matrix, counts,
                     _pairs(matrix, index, {tag: c.boxes for tag, c in counts.items()}, "box"), len(images),
                     threshold, overlap, {"boxes": sum(c.boxes for c in counts.values())})


def _pairs(matrix: list[list[int]], index: dict[str, int], given: dict[str, int], unit: str) -> list[ConfusedPair]:
    """The off-diagonal cells, worst first: highest rate, then most counted, then by name."""
    pairs = [ConfusedPair(g, p, matrix[i][j], matrix[i][j] / given[g], unit)
             for g, i in index.items() for p, j in index.items()
             if i != j and matrix[i][j] and given[g]]
    return sorted(pairs, key=lambda pair: (-pair.rate, -pair.count, pair.given, pair.predicted))
