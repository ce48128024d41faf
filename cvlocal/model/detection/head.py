"""The trained part of a detector: per-anchor descriptors -> tag scores and box corrections, both linear.

For every anchor (model/detection/regions.py) the descriptor is, for each feature map the recipe reads, the
map's values square-rooted, projected on its training set's first principal components (a 1x1 convolution),
then averaged over the anchor's nine regions. Two linear maps read the descriptor:

- tag scores: ridge regression onto one-hot targets (background and each tag) of sampled anchors: those that
  overlap a region by IoU >= 0.5 (and each region's best anchor) and some that overlap none (IoU < 0.4);
- box corrections: ridge regression onto the usual anchor-relative targets (centre shift in anchor sizes, log
  size ratio) of anchors that overlap a region by IoU >= 0.4.

Both are least squares, so a model that leaves out some images is the full normal equations minus those images'
share: k-fold held-out models cost one solve each (`fit_folds`). Each tag's score becomes a probability through
a logistic curve fitted on held-out detections (`Calibration`): the probability that a detection of that score
is right at IoU >= 0.5.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .regions import Pooling, anchor_boxes

POSITIVE_IOU, NEGATIVE_IOU, REGRESSION_IOU = 0.5, 0.4, 0.4
HARD_NEGATIVES, EASY_NEGATIVES = 48, 16  # sampled per image: IoU in [0.1, 0.4), and under 0.1
MAX_LOG_RESIZE = 3.0  # a correction never scales an anchor side by more than e^3


@dataclass(frozen=True)
class MapInput:
    """One feature map a detector reads: a backbone's tap, projected on `components` principal components."""

    backbone: str
    tap: str
    components: int


@dataclass
class Projection:
    """sqrt(map) -> (sqrt(map) - mean) @ basis, per cell: [C] and [C, P]."""

    mean: np.ndarray
    basis: np.ndarray

    @classmethod
    def fit(cls, maps: np.ndarray, components: int, max_cells: int = 8000, seed: int = 0) -> "Projection":
        """Principal components of the cells of [N,C,H,W] maps (square-rooted), from at most max_cells cells:
        the leading eigenvectors of their covariance."""
        n, c, h, w = maps.shape
        cells = np.sqrt(np.maximum(maps, 0)).transpose(0, 2, 3, 1).reshape(-1, c)
        if len(cells) > max_cells:
            cells = cells[np.random.default_rng(seed).choice(len(cells), max_cells, replace=False)]
        mean = cells.mean(axis=0, dtype=np.float64)
        centred = (cells - mean).astype(np.float64)
        values, vectors = np.linalg.eigh(centred.T @ centred)
        basis = vectors[:, ::-1][:, :components]  # eigh sorts ascending
        basis = basis * np.where(basis.sum(axis=0) < 0, -1.0, 1.0)  # a fixed sign for each direction
        if basis.shape[1] < components:  # fewer channels than components: pad with zero directions
            basis = np.hstack([basis, np.zeros((c, components - basis.shape[1]))])
        return cls(mean.astype(np.float32), basis.astype(np.float32))

    def apply(self, maps: np.ndarray) -> np.ndarray:
        """[N,C,H,W] -> [N,P,H,W] float32."""
        x = np.sqrt(np.maximum(maps, 0, dtype=np.float32))
        return np.einsum("nchw,cp->nphw", x - self.mean[None, :, None, None], self.basis, optimize=True)


def geometry(anchors: np.ndarray) -> np.ndarray:
    """[A, 4] what a descriptor knows of the anchor itself: centre, log width, log height."""
    x1, y1, x2, y2 = anchors.T
    return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, np.log(x2 - x1), np.log(y2 - y1)], axis=1)


def encode(anchors: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The corrections that turn anchors into boxes (both [N,4] x1y1x2y2): dx, dy, log dw, log dh."""
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return np.stack([((boxes[:, 0] + boxes[:, 2]) - (anchors[:, 0] + anchors[:, 2])) / 2 / aw,
                     ((boxes[:, 1] + boxes[:, 3]) - (anchors[:, 1] + anchors[:, 3])) / 2 / ah,
                     np.log(bw / aw), np.log(bh / ah)], axis=1)


def decode(anchors: np.ndarray, corrections: np.ndarray) -> np.ndarray:
    """`encode`'s inverse, clipped to the image: [..., A, 4] corrections -> [..., A, 4] x1y1x2y2 in [0, 1]."""
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    cx = (anchors[:, 0] + anchors[:, 2]) / 2 + corrections[..., 0] * aw
    cy = (anchors[:, 1] + anchors[:, 3]) / 2 + corrections[..., 1] * ah
    w = aw * np.exp(np.clip(corrections[..., 2], -MAX_LOG_RESIZE, MAX_LOG_RESIZE))
    h = ah * np.exp(np.clip(corrections[..., 3], -MAX_LOG_RESIZE, MAX_LOG_RESIZE))
    return np.clip(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1), 0.0, 1.0)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[len(a), len(b)] IoU of x1y1x2y2 boxes."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


class Descriptors:
    """Anchor descriptors from projected maps: [N, A, D], D = sum over inputs of len(REGIONS) * components."""

    def __init__(self, grid: int, shapes: np.ndarray, map_sizes: list[tuple[int, int]]):
        self.anchors = anchor_boxes(grid, shapes)
        self.poolings = [Pooling(grid, shapes, h, w) for h, w in map_sizes]

    def __call__(self, projected: list[np.ndarray]) -> np.ndarray:
        parts = [pooling.pool(maps) for pooling, maps in zip(self.poolings, projected)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=2)


def training_rows(anchors: np.ndarray, boxes: np.ndarray, tags: np.ndarray, rng: np.random.Generator):
    """For one image with truth boxes [T,4] x1y1x2y2 and tags [T]: (classification anchors, their labels 0 =
    background or tag + 1, regression anchors, their targets [M,4])."""
    if len(boxes) == 0:
        neg = rng.permutation(len(anchors))[:HARD_NEGATIVES + EASY_NEGATIVES]
        return neg, np.zeros(len(neg), np.int64), np.zeros(0, np.int64), np.zeros((0, 4))
    overlaps = iou_matrix(anchors, boxes)
    best, which = overlaps.max(axis=1), overlaps.argmax(axis=1)
    label = np.where(best >= POSITIVE_IOU, tags[which] + 1, 0)
    for t in range(len(boxes)):  # every region has at least its best anchor as a positive
        a = int(np.argmax(overlaps[:, t]))
        label[a], best[a] = tags[t] + 1, max(best[a], POSITIVE_IOU)
    positives = np.flatnonzero(best >= POSITIVE_IOU)
    hard = np.flatnonzero((best < NEGATIVE_IOU) & (best >= 0.1))
    easy = np.flatnonzero(best < 0.1)
    rows = np.concatenate([positives, rng.permutation(hard)[:HARD_NEGATIVES], rng.permutation(easy)[:EASY_NEGATIVES]])
    reg = np.flatnonzero(overlaps.max(axis=1) >= REGRESSION_IOU)
    return rows, label[rows], reg, encode(anchors[reg], boxes[which[reg]])


class NormalEquations:
    """Sums for ridge regression, kept per fold so any fold can be left out: X'X, X'Y, sum x, sum y, count."""

    def __init__(self, folds: int, d: int, k: int):
        self.xx = np.zeros((folds, d, d))
        self.xy = np.zeros((folds, d, k))
        self.x = np.zeros((folds, d))
        self.y = np.zeros((folds, k))
        self.n = np.zeros(folds)

    def add(self, fold: int, x: np.ndarray, y: np.ndarray) -> None:
        """Rows x [M,D] with targets y [M,K] (products in float32, sums kept in float64)."""
        x32 = np.asarray(x, np.float32)
        self.xx[fold] += x32.T @ x32
        self.xy[fold] += x32.T @ np.asarray(y, np.float32)
        self.x[fold] += x32.sum(axis=0, dtype=np.float64)
        self.y[fold] += np.asarray(y, np.float64).sum(axis=0)
        self.n[fold] += len(x32)

    def solve(self, ridge: float, scale: np.ndarray, leave_out: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(W [D,K], b [K]) minimising ||X W + b - Y||^2 + ridge ||W / scale||^2 over the folds kept: with
        `scale` the features' standard deviations, the penalty of a ridge on standardised features."""
        keep = np.ones(len(self.n), bool)
        if leave_out is not None:
            keep[leave_out] = False
        n = self.n[keep].sum()
        if n == 0:
            return np.zeros(self.xy.shape[1:]), np.zeros(self.xy.shape[2])
        mx, my = self.x[keep].sum(0) / n, self.y[keep].sum(0) / n
        cxx = self.xx[keep].sum(0) - n * np.outer(mx, mx)  # centred: the intercept is not penalised
        cxy = self.xy[keep].sum(0) - n * np.outer(mx, my)
        w = np.linalg.solve(cxx + ridge * np.diag(1.0 / scale ** 2), cxy)
        return w, my - mx @ w


@dataclass
class Calibration:
    """Per tag, probability = sigmoid(slope * score + intercept)."""

    slope: np.ndarray  # [K]
    intercept: np.ndarray  # [K]

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        z = scores * self.slope + self.intercept
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free sigmoid

    @classmethod
    def default(cls, k: int) -> "Calibration":
        """Before any fit: a score of 0.5 (half-way from background to the tag) is a probability of 0.5."""
        return cls(np.full(k, 8.0), np.full(k, -4.0))

    @classmethod
    def fit(cls, scores: list[np.ndarray], correct: list[np.ndarray], k: int) -> "Calibration":
        """From per-tag lists of detection scores and whether each was right; the default where a tag has
        fewer than two of each."""
        from sklearn.linear_model import LogisticRegression

        calibration = cls.default(k)
        for t in range(k):
            s, y = np.asarray(scores[t], np.float64), np.asarray(correct[t], bool)
            if y.sum() < 2 or (~y).sum() < 2:
                continue
            model = LogisticRegression(C=100.0).fit(s[:, None], y)
            if model.coef_[0, 0] > 0:  # a score that does not rank detections keeps the default
                calibration.slope[t], calibration.intercept[t] = model.coef_[0, 0], model.intercept_[0]
        return calibration
