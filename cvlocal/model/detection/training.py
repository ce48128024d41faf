"""Training a detector on labelled images, and the held-out detections its performance is reported from.

One pass does both (`train_with_held_out`): images are decoded and squashed to the recipe's size (with their
mirror images when the recipe says so), the backbones' feature maps computed once, then
- each map is projected on its principal components (fitted on the cells of up to `PROJECTION_IMAGES` images:
  unsupervised, shared by every fold);
- anchors are sampled per image and their descriptors summed into normal equations per fold (model/detection/
  folds.py: 5 folds by image, an image and its mirror image in the same fold);
- the final linear maps use every fold, each fold's held-out maps the other folds (one solve each);
- each held-out image is predicted by its fold's maps; those detections calibrate the probabilities (head.py:
  Calibration), which the final model and the held-out detections then use.
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from ..preprocess import SQUASH, decode_for_model
from .detector import Detector
from .features import FeatureMaps
from .folds import fold_of
from .head import Calibration, NormalEquations, Projection, decode, geometry, training_rows
from .metrics import _match_image
from .model import DetectionModel
from .nms import non_max_suppression
from .recipes import Recipe, recipe_for
from .types import Box, Detection, DetectorBudgetExceeded, LabelledImage

PROJECTION_IMAGES = 48
CHUNK = 16  # images whose raw feature maps are held at once
CALIBRATION_IOU = 0.5


class _Clock:
    def __init__(self, time_left: Callable[[], float] | None, timings: dict[str, float] | None):
        self.time_left, self.timings = time_left, timings if timings is not None else {}
        self._stage, self._started = None, 0.0

    def check(self) -> None:
        if self.time_left is not None and self.time_left() <= 0:
            raise DetectorBudgetExceeded("the detector's training ran out of its reserved time")

    def stage(self, name: str) -> None:
        now = time.perf_counter()
        if self._stage:
            self.timings[self._stage] = self.timings.get(self._stage, 0.0) + now - self._started
        self._stage, self._started = name, now
        self.check()


def _corners(boxes: Sequence[Box]) -> tuple[np.ndarray, np.ndarray]:
    b = np.array([(x.left, x.top, x.left + x.width, x.top + x.height) for x in boxes], np.float64).reshape(-1, 4)
    return np.clip(b, 0.0, 1.0), np.array([x.tag for x in boxes], np.int64)


def _mirror(boxes: np.ndarray) -> np.ndarray:
    return np.stack([1 - boxes[:, 2], boxes[:, 1], 1 - boxes[:, 0], boxes[:, 3]], axis=1)


def _check(images: Sequence[LabelledImage], tag_count: int) -> None:
    if tag_count < 1:
        raise ValueError("a detector needs at least one tag")
    if not images:
        raise ValueError("no images to train on")
    for n, image in enumerate(images):
        for b in image.boxes:
            if not 0 <= b.tag < tag_count:
                raise ValueError(f"image {n}: region tag {b.tag} outside 0..{tag_count - 1}")
            values = (b.left, b.top, b.width, b.height)
            if not all(np.isfinite(values)) or b.width <= 0 or b.height <= 0:
                raise ValueError(f"image {n}: region {values} must be finite with a positive size")


def to_detections(boxes: np.ndarray, tags: np.ndarray, probabilities: np.ndarray) -> list[Detection]:
    return [Detection(int(t), float(p), float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1]))
            for b, t, p in zip(np.clip(boxes, 0.0, 1.0), tags, probabilities)]


def _project_all(recipe: Recipe, images: Sequence[LabelledImage], clock: _Clock):
    """-> (projections, projected maps per view [n_views][inputs] of [N,P,h,w]), views: plain (and mirrored)."""
    clock.stage("decode_s")
    pixels = np.stack([decode_for_model(i.data, recipe.size, recipe.size, SQUASH) for i in images])
    views = [pixels] + ([pixels[:, :, ::-1]] if recipe.mirrored else [])
    clock.stage("features_s")
    runners = {b: FeatureMaps(b, recipe.size, tuple(dict.fromkeys(i.tap for i in recipe.inputs if i.backbone == b)))
               for b in recipe.backbones}

    def maps_of(batch: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
        out = {}
        for b, runner in runners.items():
            out.update({(b, t): m for t, m in runner.run(np.ascontiguousarray(batch)).items()})
        clock.check()
        return out

    n = len(images)
    sample = np.unique(np.linspace(0, n - 1, min(n, PROJECTION_IMAGES)).round().astype(int))
    first = maps_of(pixels[sample])
    projections = [Projection.fit(first[(i.backbone, i.tap)], i.components) for i in recipe.inputs]
    projected = [[np.zeros((n, i.components) + first[(i.backbone, i.tap)].shape[2:], np.float32)
                  for i in recipe.inputs] for _ in views]
    for v, view in enumerate(views):
        for start in range(0, n, CHUNK):
            maps = maps_of(view[start:start + CHUNK])
            for k, (i, p) in enumerate(zip(recipe.inputs, projections)):
                projected[v][k][start:start + CHUNK] = p.apply(maps[(i.backbone, i.tap)])
    return projections, projected


def train_with_held_out(images: Sequence[LabelledImage], tag_count: int, training_type: str, *,
                        time_left: Callable[[], float] | None = None, timings: dict[str, float] | None = None
                        ) -> tuple[Detector, list[list[Detection]]]:
    """The detector trained on every image, and every image's detections by a model of the same recipe that
    did not train on it (5-fold, `folds.fold_of`; with one image, the final model's)."""
    return train_recipe(images, tag_count, recipe_for(training_type), time_left=time_left, timings=timings)


def train_recipe(images: Sequence[LabelledImage], tag_count: int, recipe: Recipe, *,
                 time_left: Callable[[], float] | None = None, timings: dict[str, float] | None = None
                 ) -> tuple[Detector, list[list[Detection]]]:
    """`train_with_held_out` for a recipe given whole (the bench's baseline is one no training type names)."""
    _check(images, tag_count)
    clock = _Clock(time_left, timings)
    # One BLAS thread: these products are many and mid-sized; on a busy machine multithreaded BLAS spent several
    # times the CPU in spinning (as in model/head.py). The backbone runs spread images over the cores instead.
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(recipe, images, tag_count, clock)


def _train(recipe: Recipe, images: Sequence[LabelledImage], tag_count: int, clock: _Clock
           ) -> tuple[Detector, list[list[Detection]]]:
    projections, projected = _project_all(recipe, images, clock)

    clock.stage("head_s")
    n = len(images)
    folds = fold_of(n)
    k = int(folds.max()) + 1
    model = DetectionModel(recipe.size, recipe.grid, recipe.shapes, recipe.inputs, projections,
                           np.zeros((0, 0)), np.zeros((0, 0)), np.zeros((0, 0)), np.zeros((0, 0)),
                           Calibration.default(tag_count))
    anchors, geo = model.anchors, geometry(model.anchors)
    truths = [_corners(i.boxes) for i in images]
    rng = np.random.default_rng(0)
    classes = boxes_eq = None
    for v in range(len(projected)):
        for start in range(0, n, CHUNK):
            descriptors = model.descriptors([m[start:start + CHUNK] for m in projected[v]])
            rows = {}  # fold -> (classification rows, labels, regression rows, targets)
            for j, d in enumerate(descriptors):
                i = start + j
                corners, tags = truths[i]
                picked, labels, reg, targets = training_rows(anchors, _mirror(corners) if v else corners, tags, rng)
                x = np.hstack([d, geo])
                got = rows.setdefault(folds[i], ([], [], [], []))
                for bucket, value in zip(got, (x[picked], np.eye(tag_count + 1)[labels], x[reg], targets)):
                    bucket.append(value)
            for fold, (xc, yc, xr, yr) in rows.items():
                if classes is None:
                    classes = NormalEquations(k, xc[0].shape[1], tag_count + 1)
                    boxes_eq = NormalEquations(k, xc[0].shape[1], 4)
                classes.add(fold, np.vstack(xc), np.vstack(yc))
                boxes_eq.add(fold, np.vstack(xr), np.vstack(yr))
            clock.check()
    scale = _spread(classes)

    def solve(leave_out):
        wc, bc = classes.solve(recipe.ridge, scale, leave_out)
        wb, bb = boxes_eq.solve(recipe.ridge, scale, leave_out)
        dd = wc.shape[0] - geo.shape[1]
        return wc[:dd], bc + geo @ wc[dd:], wb[:dd], bb + geo @ wb[dd:]

    model.class_weights, model.class_bias, model.box_weights, model.box_bias = (
        a.astype(np.float32) for a in solve(None))

    clock.stage("held_out_s")
    held_scores, held_boxes = [None] * n, [None] * n
    for f in range(k):
        members = np.flatnonzero(folds == f)
        fold_model = model if k == 1 else _with_maps(model, solve(f))
        for start in range(0, len(members), CHUNK):
            idx = members[start:start + CHUNK]
            scores, corrections = fold_model.raw_outputs([m[idx] for m in projected[0]])
            boxes = decode(anchors, corrections)
            for j, i in enumerate(idx):
                held_scores[i], held_boxes[i] = scores[j], boxes[j]
            clock.check()
    model.calibration = _calibrate(held_scores, held_boxes, truths, tag_count)
    held_out = []
    for s, b in zip(held_scores, held_boxes):
        kept, tags, probs = non_max_suppression(b, model.calibration(s))
        held_out.append(to_detections(b[kept], tags, probs))
    clock.stage("")
    return Detector(model), held_out


def _spread(eq: NormalEquations) -> np.ndarray:
    """The descriptors' standard deviations over every sampled row (the ridge's scale)."""
    n = eq.n.sum()
    mean = eq.x.sum(0) / n
    var = np.diagonal(eq.xx.sum(0)) / n - mean ** 2
    return np.sqrt(np.maximum(var, 0.0)) + 1e-3


def _with_maps(model: DetectionModel, maps) -> DetectionModel:
    import dataclasses

    wc, bc, wb, bb = maps
    return dataclasses.replace(model, class_weights=wc, class_bias=bc, box_weights=wb, box_bias=bb,
                               _descriptors=model._descriptors)


def _calibrate(scores, boxes, truths, tag_count: int) -> Calibration:
    """Fit each tag's probability curve on the held-out detections (after suppression with the default curve):
    is the detection right at IoU >= 0.5?"""
    default = Calibration.default(tag_count)
    per_tag_scores = [[] for _ in range(tag_count)]
    per_tag_right = [[] for _ in range(tag_count)]
    for s, b, (corners, tags) in zip(scores, boxes, truths):
        kept, kept_tags, _ = non_max_suppression(b, default(s))
        detections = to_detections(b[kept], kept_tags, s[kept, kept_tags])  # probability: the raw score
        truth_boxes = [Box(int(t), c[0], c[1], c[2] - c[0], c[3] - c[1]) for c, t in zip(corners, tags)]
        for d, m in zip(detections, _match_image(detections, truth_boxes, CALIBRATION_IOU)):
            per_tag_scores[d.tag].append(d.probability)
            per_tag_right[d.tag].append(m >= 0)
    return Calibration.fit(per_tag_scores, per_tag_right, tag_count)


def train_detector(images: Sequence[LabelledImage], tag_count: int, training_type: str, *,
                   time_left: Callable[[], float] | None = None,
                   timings: dict[str, float] | None = None) -> Detector:
    """The detector trained on these images (see `train_with_held_out`, which costs little more)."""
    return train_with_held_out(images, tag_count, training_type, time_left=time_left, timings=timings)[0]


def held_out_detections(images: Sequence[LabelledImage], tag_count: int, training_type: str, *,
                        time_left: Callable[[], float] | None = None,
                        timings: dict[str, float] | None = None) -> list[list[Detection]]:
    """Every image's detections by a model that did not train on it (see `train_with_held_out`)."""
    return train_with_held_out(images, tag_count, training_type, time_left=time_left, timings=timings)[1]
