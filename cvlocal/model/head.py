"""The trained part of a classifier: one affine layer over frozen backbone features.

Multiclass projects get a multinomial logistic regression (softmax over tags); multilabel projects get one
independent binary logistic regression per tag (sigmoid per tag). Features may be standardised (per-dimension
mean and standard deviation of the training set) before fitting; that standardisation is folded into
`weights`/`bias`, so the whole model is `input @ weights + bias -> softmax|sigmoid`, which the ONNX exporter
writes as MatMul -> Add -> Softmax/Sigmoid.

A head records its input (`inputs`): the first `width` values of each named backbone's `features` output,
concatenated, averaged over the image and its mirror image when `test_time_flip` is set, then `transform`ed
("sqrt": element-wise square root; the features are pooled ReLU6 outputs, never negative), and how the image
was brought to the backbones' input (`resize`, model/preprocess.py: "short-side" or "squash"). Serving and
export run those backbones on that preprocessing and nothing else. Heads saved before this was recorded read the
whole Lite0 output (2,048 values) or, the oldest, its first 1,280, of the short-side crop (see `Head.load`).

Regularisation: the objective is `sum of log-losses + ||W||^2 / (2 C)` (the bias is not penalised), the same
as scikit-learn's LogisticRegression. Without `c`, C is chosen by `choose_c`: a fixed default for small
datasets, a held-out log-loss search over a small grid once there are enough images to trust one split.
"""
from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
from threadpoolctl import threadpool_limits  # a scikit-learn dependency, like scipy

from .backbone import BACKBONE_NAME, CNN_DIM, FEATURE_DIM
from .preprocess import RESIZES, SHORT_SIDE

DEFAULT_C = 1.0
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
MIN_IMAGES_FOR_SEARCH = 100   # below this one validation split is too noisy to pick C: use DEFAULT_C
MIN_PER_TAG_FOR_SEARCH = 10   # ... and each tag needs a few validation positives
SEARCH_MAX_IMAGES = 2000      # subsample bigger sets for the C search only (keeps training a few seconds)
MAX_ITER = 500
MIN_BLOCK_ROWS = 500  # fewer rows a thread and the threads cost more than they save
ABSENT_LOGIT_GAP = 20.0       # multiclass tags with no training image sit this far below the others


@dataclass(frozen=True)
class HeadInput:
    """The first `width` values of backbone `backbone`'s features output."""

    backbone: str
    width: int


LEGACY_INPUTS = (HeadInput(BACKBONE_NAME, FEATURE_DIM),)  # every head saved without `inputs`
TRANSFORMS = ("none", "sqrt")


def assemble(inputs: tuple[HeadInput, ...], features: Mapping[str, np.ndarray]) -> np.ndarray:
    """[N, sum of widths]: the first `width` values of each input's backbone features, side by side."""
    parts = []
    for i in inputs:
        x = np.asarray(features[i.backbone], dtype=np.float32)
        if x.ndim != 2 or x.shape[1] < i.width:
            raise ValueError(f"{i.backbone} features of shape {x.shape}: the head reads {i.width} a row")
        parts.append(x[:, :i.width])
    return parts[0] if len(parts) == 1 else np.hstack(parts)


def apply_transform(transform: str, x: np.ndarray) -> np.ndarray:
    if transform == "sqrt":
        return np.sqrt(np.maximum(x, 0.0))
    if transform == "none":
        return x
    raise ValueError(f"transform must be one of {TRANSFORMS}, not {transform!r}")


@dataclass
class Head:
    weights: np.ndarray  # [D, K] float32, standardisation folded in; D = the sum of the input widths
    bias: np.ndarray  # [K] float32
    multilabel: bool
    inputs: tuple[HeadInput, ...] = field(default=LEGACY_INPUTS)
    test_time_flip: bool = False  # predict from the mean features of the image and its mirror image
    transform: str = "none"
    resize: str = SHORT_SIDE  # how images reach 256 before the centre crop (model/preprocess.py)

    def __post_init__(self):
        self.inputs = tuple(self.inputs)
        if sum(i.width for i in self.inputs) != self.weights.shape[0]:
            raise ValueError(f"a head of {self.weights.shape[0]} weights per tag cannot read {self.inputs}")
        if self.transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, not {self.transform!r}")
        if self.resize not in RESIZES:
            raise ValueError(f"resize must be one of {RESIZES}, not {self.resize!r}")

    @property
    def backbones(self) -> tuple[str, ...]:
        """The backbones to run for a prediction, each once, in input order."""
        return tuple(dict.fromkeys(i.backbone for i in self.inputs))

    def input_from(self, features: Mapping[str, np.ndarray],
                   mirrored: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """The head's [N, D] input from each backbone's [N, *] features (and, for a head with
        `test_time_flip`, the features of the mirrored images, which it averages in)."""
        x = assemble(self.inputs, features)
        if self.test_time_flip:
            if mirrored is None:
                raise ValueError("this head predicts from an image and its mirror image: pass both")
            x = (x + assemble(self.inputs, mirrored)) / 2
        return apply_transform(self.transform, x)

    def logits(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.weights.shape[0]:
            raise ValueError(f"the head takes [N, {self.weights.shape[0]}] inputs (see input_from), not {x.shape}")
        return x @ self.weights + self.bias

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """[N, D] head input -> [N, K] float32 probabilities (softmax rows sum to 1; sigmoids are independent)."""
        z = self.logits(features).astype(np.float64)
        if self.multilabel:
            p = 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free sigmoid
        else:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
        return p.astype(np.float32)

    def to_bytes(self) -> bytes:
        """The stored form (an .npz), as the store keeps it as a blob."""
        buf = io.BytesIO()
        self.save(buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Head":
        return cls.load(io.BytesIO(data))

    def save(self, target) -> None:
        """To a path or a binary file object."""
        if not hasattr(target, "write"):
            with open(target, "wb") as f:  # a file object keeps np.savez from appending ".npz"
                return self.save(f)
        np.savez(target, weights=self.weights, bias=self.bias, multilabel=np.array(self.multilabel),
                 input_backbones=np.array([i.backbone for i in self.inputs]),
                 input_widths=np.array([i.width for i in self.inputs], np.int64),
                 test_time_flip=np.array(self.test_time_flip), transform=np.array(self.transform),
                 resize=np.array(self.resize))

    @classmethod
    def load(cls, source) -> "Head":
        """From a path or a binary file object.

        Heads saved without their inputs read Lite0's whole output. The oldest of them, trained on the
        backbone's channels alone (before the thumbnail features were appended after them), get zero weights
        for the thumbnail: they give exactly the answers they were trained to give, in serving and in export.
        """
        with np.load(source if hasattr(source, "read") else Path(source), allow_pickle=False) as data:
            weights = data["weights"].astype(np.float32)
            extra = {}
            if "input_backbones" in data:
                extra["inputs"] = tuple(HeadInput(str(b), int(w))
                                        for b, w in zip(data["input_backbones"], data["input_widths"]))
                extra["test_time_flip"] = bool(data["test_time_flip"])
                extra["transform"] = str(data["transform"])
            elif weights.shape[0] == CNN_DIM:
                weights = np.vstack([weights, np.zeros((FEATURE_DIM - CNN_DIM, weights.shape[1]), np.float32)])
            if "resize" in data:  # heads saved without it were trained on the short-side crop
                extra["resize"] = str(data["resize"])
            return cls(weights=weights, bias=data["bias"].astype(np.float32), multilabel=bool(data["multilabel"]),
                       **extra)


def fit_head(features: np.ndarray, labels: np.ndarray, multilabel: bool, c: float | None = None,
             standardise: bool = True, inputs: tuple[HeadInput, ...] | None = None,
             test_time_flip: bool = False, transform: str = "none", resize: str = SHORT_SIDE,
             start: Head | None = None, workers: int = 1) -> Head:
    """Train a head on [N, D] features and [N, K] boolean labels.

    Multiclass: each row's tag is its first True column; rows with no tag are left out of training.
    Tags with no training image (multiclass) or with all/no images (multilabel) cannot be learnt: they get
    zero weights and a constant bias (far below the others, or the logit of their smoothed frequency).
    `c` overrides the regularisation rule (see `choose_c`); `standardise=False` fits the features as they are.
    `inputs`, `test_time_flip`, `transform` and `resize` are recorded in the head (default: the first D values of
    Lite0's output of the short-side crop, as they are); the features passed in are the head's input, already
    assembled and transformed. `start`: a head over the same inputs and tags to start the solver from (one trained
    on a superset of these rows lies near this fit's optimum, so the solver needs far fewer steps). `workers`:
    threads for the final fit's products (each takes a block of rows).
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise ValueError(f"features {x.shape} and labels {y.shape} must be [N, D] and [N, K]")
    if not multilabel:
        keep = y.any(axis=1)
        x, y = x[keep], _first_tag_only(y[keep])
    n, d = x.shape
    k = y.shape[1]
    if n == 0:
        raise ValueError("no labelled images to train on")

    if standardise:
        mean = x.mean(axis=0)
        std = x.std(axis=0)
        std[std < 1e-6] = 1.0  # constant dimensions carry no information; leave them unscaled
    else:
        mean, std = np.zeros(d), np.ones(d)
    z = ((x - mean) / std).astype(np.float32)

    if start is not None and start.weights.shape != (d, k):
        raise ValueError(f"a start head of {start.weights.shape} weights cannot start a fit of [{d}, {k}]")
    learnt = _learnable_columns(y, multilabel)
    w = np.zeros((d, k))
    b = _constant_bias(y, multilabel, n)
    if learnt.sum() >= (1 if multilabel else 2):
        cols = np.flatnonzero(learnt)
        # One BLAS thread: these tall, thin products gain little from threads, and on a busy machine
        # (the service predicting, other trainings) spinning BLAS threads made fits 3-5x slower.
        with threadpool_limits(limits=1, user_api="blas"):
            c_value = choose_c(z, y[:, cols], multilabel) if c is None else c
            w_fit, b_fit = _fit_standardised(z, y[:, cols], multilabel, c_value,
                                             None if start is None else _standardised_start(start, mean, std, cols),
                                             workers)
        w[:, cols], b[cols] = w_fit, b_fit
        if not multilabel:
            b[~learnt] = b_fit.min() - ABSENT_LOGIT_GAP
    elif not multilabel:
        b[:] = np.where(learnt, 0.0, -ABSENT_LOGIT_GAP)  # a single tag: it always wins

    # Fold the standardisation in: ((x - mean) / std) @ w + b == x @ (w / std) + (b - (mean / std) @ w).
    weights = w / std[:, None]
    bias = b - (mean / std) @ w
    return Head(weights=weights.astype(np.float32), bias=bias.astype(np.float32), multilabel=multilabel,
                inputs=inputs or (HeadInput(BACKBONE_NAME, d),), test_time_flip=test_time_flip,
                transform=transform, resize=resize)


def _standardised_start(start: Head, mean: np.ndarray, std: np.ndarray, cols: np.ndarray):
    """`start`'s (W, b) for these columns in the standardised space the solver works in (the fold undone)."""
    w = start.weights.astype(np.float64) * std[:, None]
    b = start.bias.astype(np.float64) + mean @ start.weights.astype(np.float64)
    return w[:, cols], b[cols]


def choose_c(z: np.ndarray, y: np.ndarray, multilabel: bool) -> float:
    """Regularisation strength for standardised features `z` and boolean labels `y` (all columns learnable).

    Small sets (under MIN_IMAGES_FOR_SEARCH images, or a tag with under MIN_PER_TAG_FOR_SEARCH images) get
    DEFAULT_C, tuned on real backbone features to keep held-out probabilities confident. Larger sets hold out a
    stratified quarter (of at most SEARCH_MAX_IMAGES images) and take the C_GRID value with the lowest
    held-out log-loss, fitting from strong to weak regularisation with warm starts so the grid costs little
    more than one fit.
    """
    n = len(z)
    counts = y.sum(axis=0)
    smallest = counts.min() if not multilabel else min(counts.min(), (n - counts).min())
    if n < MIN_IMAGES_FOR_SEARCH or smallest < MIN_PER_TAG_FOR_SEARCH:
        return DEFAULT_C
    rng = np.random.default_rng(0)
    strata = label_strata(y, multilabel)
    order = rng.permutation(n)
    if n > SEARCH_MAX_IMAGES:
        order = order[:SEARCH_MAX_IMAGES]
    val = np.zeros(n, dtype=bool)
    for s in np.unique(strata[order]):  # every fourth image of each stratum validates
        members = order[strata[order] == s]
        val[members[::4]] = True
    train = np.zeros(n, dtype=bool)
    train[order] = True
    train &= ~val
    yt, yv = y[train], y[val]
    if (yt.sum(axis=0) == 0).any() or (multilabel and (yt.sum(axis=0) == len(yt)).any()):
        return DEFAULT_C
    best_c, best_loss, start = DEFAULT_C, np.inf, None
    for c in C_GRID:
        w, b = _fit_standardised(z[train], yt, multilabel, c, start)
        start = (w, b)
        loss = _data_loss(z[val] @ w + b, yv, multilabel)
        if loss < best_loss:
            best_c, best_loss = c, loss
    return best_c


def _fit_standardised(z, y, multilabel, c, start=None, workers=1):
    """Minimise sum of log-losses + ||W||^2 / (2c) with L-BFGS; returns (W [D,K], b [K]). `workers`: threads that
    each compute the loss and gradient of a block of rows (numpy releases the GIL in the products)."""
    from scipy.optimize import minimize  # here, not with the module: see evaluation._assign_folds

    n, d = z.shape
    k = y.shape[1]
    yf = y.astype(np.float64)
    if start is None:
        w0 = np.zeros((d, k))
        b0 = _constant_bias(y, multilabel, n) if multilabel else np.log(yf.mean(axis=0) + 1e-9)
    else:
        w0, b0 = start
    theta0 = np.concatenate([w0.ravel(), b0])

    z32 = np.ascontiguousarray(z, dtype=np.float32)  # float32 matmuls: twice as fast, ample precision here
    workers = max(1, min(workers, n // MIN_BLOCK_ROWS))
    blocks = [slice(i * n // workers, (i + 1) * n // workers) for i in range(workers)]

    def block(rows, w32, b):
        logits = (z32[rows] @ w32).astype(np.float64) + b
        loss, residual = _loss_and_residual(logits, yf[rows], multilabel)
        return loss, (z32[rows].T @ residual.astype(np.float32)).astype(np.float64), residual.sum(axis=0)

    def objective(theta, pool=None):
        w = theta[:-k].reshape(d, k)
        w32, b = w.astype(np.float32), theta[-k:]
        parts = list(pool.map(lambda rows: block(rows, w32, b), blocks)) if pool else [block(blocks[0], w32, b)]
        loss, grad_w, grad_b = (sum(p[i] for p in parts) for i in range(3))
        return loss + 0.5 * np.sum(w * w) / c, np.concatenate([(grad_w + w / c).ravel(), grad_b])

    options = {"maxiter": MAX_ITER, "gtol": 1e-5 * max(1, n)}
    if workers == 1:
        result = minimize(objective, theta0, jac=True, method="L-BFGS-B", options=options)
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="cvlocal-head") as pool:
            result = minimize(objective, theta0, args=(pool,), jac=True, method="L-BFGS-B", options=options)
    theta = result.x
    return theta[:-k].reshape(d, k), theta[-k:]


def _loss_and_residual(logits, yf, multilabel):
    """Summed log-loss and its gradient with respect to the logits."""
    if multilabel:
        # log(1 + e^z) - y z, written to stay finite for large |z|
        loss = np.sum(np.logaddexp(0.0, logits) - yf * logits)
        p = 0.5 * (1.0 + np.tanh(0.5 * logits))
    else:
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        log_p = shifted - log_norm
        loss = -np.sum(yf * log_p)
        p = np.exp(log_p)
    return loss, p - yf


def _data_loss(logits, y, multilabel):
    return _loss_and_residual(logits, y.astype(np.float64), multilabel)[0]


def _first_tag_only(y):
    first = np.zeros_like(y)
    first[np.arange(len(y)), y.argmax(axis=1)] = True
    return first


def _learnable_columns(y, multilabel):
    counts = y.sum(axis=0)
    if multilabel:
        return (counts > 0) & (counts < len(y))
    return counts > 0


def _constant_bias(y, multilabel, n):
    """Bias for a tag the head cannot learn: logit of its smoothed frequency (multilabel), else 0."""
    if not multilabel:
        return np.zeros(y.shape[1])
    p = (y.sum(axis=0) + 0.5) / (n + 1.0)
    return np.log(p / (1.0 - p))


def label_strata(y, multilabel):
    """One stratum per image for stratified splits: its (first) tag for multiclass, its rarest tag for
    multilabel (so rare tags spread over the splits), -1 for an image with no tag."""
    y = np.asarray(y, dtype=bool)
    if not multilabel:
        return np.where(y.any(axis=1), y.argmax(axis=1), -1)
    counts = y.sum(axis=0)
    rarity = np.where(y, counts[None, :], np.iinfo(np.int64).max)
    return np.where(y.any(axis=1), rarity.argmin(axis=1), -1)
