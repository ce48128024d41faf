"""Which tags the model confuses: the confusion matrix of an iteration's held-out predictions.

Classification. Rows are the tag an image was given, columns the tag it was predicted as:
- Multiclass: its most probable tag (whatever the threshold: every image lands in one cell).
- Multilabel: every tag at or above the probability threshold; each given tag that is among them is a hit
  (the diagonal), and each predicted tag that was not given counts once against every given tag (off the
  diagonal), so a row may add up to more than its images.
Per tag: TP (given and predicted), FN (given, not predicted), FP (predicted, not given). A pair (given A,
predicted B) is confused at the rate count / images given A; pairs are listed highest rate first (then most
images), so the worst pair is the first.

Object detection (later) fills the same report: per-tag TP / FP / FN of boxes matched at an overlap threshold
(`overlap_threshold`), and the pairs of tags that matched boxes were given and predicted as."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.insight.heldout import HeldOutImage

TOP_PAIRS = 20  # pairs that a console, a Markdown report and a job summary show (the JSON has them all)


@dataclass
class TagCounts:
    images: int = 0  # given the tag
    tp: int = 0
    fp: int = 0
    fn: int = 0


@dataclass(frozen=True)
class ConfusedPair:
    given: str
    predicted: str
    images: int
    rate: float  # images / images given `given`

    def describe(self) -> str:
        return f"{self.given} -> {self.predicted}: {self.images} image(s), {self.rate:.1%} of {self.given}"


@dataclass
class Confusion:
    kind: str  # "classification" (object detection: "detection")
    rule: str  # how an image counts as predicted as a tag
    tags: list[str]
    matrix: list[list[int]]  # [given][predicted], in `tags` order
    per_tag: dict[str, TagCounts]
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
                "tags": self.tags, "per_tag": {t: asdict(c) for t, c in self.per_tag.items()},
                "pairs": [asdict(p) for p in (self.pairs if top is None else self.pairs[:top])],
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
    pairs = [ConfusedPair(g, p, matrix[i][j], matrix[i][j] / counts[g].images)
             for g, i in index.items() for p, j in index.items()
             if i != j and matrix[i][j] and counts[g].images]
    pairs.sort(key=lambda pair: (-pair.rate, -pair.images, pair.given, pair.predicted))
    rule = (f"every tag with a probability >= {threshold:g}" if multilabel else "the most probable tag")
    return Confusion("classification", rule, list(tags), matrix, counts, pairs, len(images),
                     threshold if multilabel else None)
