"""Custom Vision's object-detection performance: per-tag precision, recall and average precision, and mAP.

Definitions (Azure's, as its portal and `get_iteration_performance(threshold, overlap_threshold)` report them):

- Matching, per image and per tag: detections are taken by probability, highest first; each one matches the
  unmatched truth box of its tag it overlaps most, when that IoU is >= `overlap_threshold`; every truth box is
  matched at most once (the greedy matching of Pascal VOC). A matched detection is a true positive; the others
  are false positives.
- Precision and recall at `threshold` count the detections with probability >= threshold:
  precision = TP / detections, recall = TP / truth boxes. With no detection a tag's precision is 0.0 if it has
  truth boxes (they were all missed) and 1.0 if it has none; with no truth box its recall is 1.0 (the same
  conventions as classification, model/evaluation.py). The iteration's precision and recall pool every tag's
  counts (micro-average).
- Average precision of a tag: the area under its precision-recall curve over all its detections, whatever
  their probability, with Pascal VOC's all-points interpolation (VOC 2010 onwards: the precision at each recall
  is the best precision at that recall or any higher one). Tags without truth boxes get AP 0.0 and stay out of
  the mean average precision (mAP), the mean of the other tags' APs.
- Standard deviations: the population standard deviation of the figure computed on each fold of images
  separately (the folds `held_out_detections` uses, `folds.fold_of`), over the folds where it is defined;
  0.0 with fewer than two.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .folds import fold_of
from .types import Box, Detection


@dataclass(frozen=True)
class TagPerformance:
    precision: float
    recall: float
    average_precision: float
    precision_std: float
    recall_std: float
    ap_std: float


@dataclass(frozen=True)
class ImageMatches:
    """One image's matching: for each of its detections (in the order given), the index of the truth box it
    matched at the threshold, or None (a false positive, or under the threshold); and the truth boxes no
    detection at the threshold matched."""

    matches: tuple[int | None, ...]
    missed: tuple[int, ...]


@dataclass(frozen=True)
class DetectionPerformance:
    per_tag: list[TagPerformance]
    precision: float
    recall: float
    mean_average_precision: float
    precision_std: float
    recall_std: float
    map_std: float
    per_image: list[ImageMatches]


def iou(a: tuple[float, float, float, float], b: np.ndarray) -> np.ndarray:
    """IoU of one (left, top, width, height) box with [N, 4] boxes of the same form."""
    b = np.asarray(b, np.float64).reshape(-1, 4)
    x1 = np.maximum(a[0], b[:, 0])
    y1 = np.maximum(a[1], b[:, 1])
    x2 = np.minimum(a[0] + a[2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[1] + a[3], b[:, 1] + b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = a[2] * a[3] + b[:, 2] * b[:, 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _match_image(detections: Sequence[Detection], truths: Sequence[Box], overlap: float):
    """-> (truth index or -1 for every detection, matching at any probability), in the detections' order."""
    out = np.full(len(detections), -1)
    order = sorted(range(len(detections)), key=lambda i: -detections[i].probability)  # stable for ties
    taken = np.zeros(len(truths), bool)
    boxes = np.array([(t.left, t.top, t.width, t.height) for t in truths], np.float64).reshape(-1, 4)
    tags = np.array([t.tag for t in truths], np.int64)
    for i in order:
        d = detections[i]
        candidates = (tags == d.tag) & ~taken
        if not candidates.any():
            continue
        overlaps = np.where(candidates, iou((d.left, d.top, d.width, d.height), boxes), -1.0)
        best = int(np.argmax(overlaps))
        if overlaps[best] >= overlap:
            out[i] = best
            taken[best] = True
    return out


def voc_average_precision(probabilities: np.ndarray, true_positive: np.ndarray, truth_count: int) -> float:
    """All-points interpolated AP (Pascal VOC 2010+) of one tag's detections; 0.0 without truth boxes."""
    if truth_count == 0:
        return 0.0
    order = np.argsort(-np.asarray(probabilities, np.float64), kind="stable")
    tp = np.asarray(true_positive, bool)[order]
    hits = np.cumsum(tp)
    recall = np.concatenate([[0.0], hits / truth_count, [1.0]])
    precision = np.concatenate([[0.0], hits / np.arange(1, len(tp) + 1), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # the envelope: best precision at >= recall
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


def _precision(tp: int, predicted: int, truths: int) -> float:
    if predicted == 0:
        return 0.0 if truths else 1.0
    return tp / predicted


def _recall(tp: int, truths: int) -> float:
    return tp / truths if truths else 1.0


def _std(values: list[float]) -> float:
    return float(np.std(values)) if len(values) >= 2 else 0.0


class _Counts:
    """Detections, true positives and truth boxes of one tag over a set of images."""

    def __init__(self, probs, tp, truths):
        self.probs, self.tp, self.truths = probs, tp, truths

    def at(self, threshold: float) -> tuple[int, int]:
        keep = self.probs >= threshold
        return int(keep.sum()), int((self.tp & keep).sum())


def detection_performance(predictions: Sequence[Sequence[Detection]], truths: Sequence[Sequence[Box]],
                          tag_count: int, threshold: float, overlap_threshold: float,
                          folds: Sequence[int] | None = None) -> DetectionPerformance:
    """Performance of per-image detections against per-image truth boxes (see the module docstring).

    `folds` (one fold number per image) are the groups the standard deviations are computed over; by default
    the folds `held_out_detections` uses for this many images.
    """
    if len(predictions) != len(truths):
        raise ValueError(f"{len(predictions)} images of predictions for {len(truths)} images of truth boxes")
    for name, value in (("threshold", threshold), ("overlap_threshold", overlap_threshold)):
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], not {value!r}")
    n = len(truths)
    folds = fold_of(n) if folds is None else np.asarray(folds)
    if len(folds) != n:
        raise ValueError(f"{len(folds)} folds for {n} images")
    image_of, tag_of, prob_of, tp_of = [], [], [], []
    per_image = []
    truth_counts = np.zeros((n, tag_count), np.int64)
    for i, (dets, boxes) in enumerate(zip(predictions, truths)):
        for b in boxes:
            if not 0 <= b.tag < tag_count:
                raise ValueError(f"truth box tag {b.tag} outside 0..{tag_count - 1}")
            truth_counts[i, b.tag] += 1
        # Greedy by probability: the detections at or above the threshold are matched first, so the matching
        # at the threshold is the matching of all of them, cut at the threshold.
        matched_any = _match_image(dets, boxes, overlap_threshold)
        matches = tuple(int(m) if m >= 0 and d.probability >= threshold else None
                        for d, m in zip(dets, matched_any))
        hit = {m for m in matches if m is not None}
        per_image.append(ImageMatches(matches, tuple(j for j in range(len(boxes)) if j not in hit)))
        for d, m in zip(dets, matched_any):
            if not 0 <= d.tag < tag_count:
                raise ValueError(f"detection tag {d.tag} outside 0..{tag_count - 1}")
            image_of.append(i)
            tag_of.append(d.tag)
            prob_of.append(d.probability)
            tp_of.append(m >= 0)
    image_of, tag_of = np.array(image_of, np.int64), np.array(tag_of, np.int64)
    prob_of, tp_of = np.array(prob_of, np.float64), np.array(tp_of, bool)

    def counts(tag: int, images: np.ndarray) -> _Counts:
        keep = (tag_of == tag) & images[image_of] if len(image_of) else np.zeros(0, bool)
        return _Counts(prob_of[keep], tp_of[keep], int(truth_counts[images, tag].sum()))

    def figures(images: np.ndarray):
        """(per tag (precision, recall, AP or None), pooled precision, pooled recall, mAP or None)"""
        per, predicted, hits, total, aps = [], 0, 0, 0, []
        for tag in range(tag_count):
            c = counts(tag, images)
            p, tp = c.at(threshold)
            ap = voc_average_precision(c.probs, c.tp, c.truths) if c.truths else None
            per.append((p, tp, c.truths, ap))
            predicted, hits, total = predicted + p, hits + tp, total + c.truths
            if ap is not None:
                aps.append(ap)
        return per, (predicted, hits, total), (float(np.mean(aps)) if aps else None)

    everything = np.ones(n, bool)
    per, pooled, mean_ap = figures(everything)
    fold_figures = [figures(folds == f) for f in np.unique(folds)] if n else []
    per_tag = []
    for tag, (p, tp, t, ap) in enumerate(per):
        in_folds = [f[0][tag] for f in fold_figures]
        per_tag.append(TagPerformance(
            precision=_precision(tp, p, t), recall=_recall(tp, t), average_precision=ap or 0.0,
            precision_std=_std([_precision(x[1], x[0], x[2]) for x in in_folds if x[0]]),
            recall_std=_std([_recall(x[1], x[2]) for x in in_folds if x[2]]),
            ap_std=_std([x[3] for x in in_folds if x[3] is not None])))
    predicted, hits, total = pooled
    return DetectionPerformance(
        per_tag=per_tag, precision=_precision(hits, predicted, total), recall=_recall(hits, total),
        mean_average_precision=mean_ap or 0.0,
        precision_std=_std([_precision(f[1][1], f[1][0], f[1][2]) for f in fold_figures if f[1][0]]),
        recall_std=_std([_recall(f[1][1], f[1][2]) for f in fold_figures if f[1][2]]),
        map_std=_std([f[2] for f in fold_figures if f[2] is not None]),
        per_image=per_image)
