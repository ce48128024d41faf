"""The trained part of a classifier: one affine layer over frozen backbone features.

Multiclass projects get a multinomial logistic regression (softmax over tags); multilabel projects get one
independent binary logistic regression per tag (sigmoid per tag). Features are standardised (per-dimension
mean and standard deviation of the training set) before fitting, and that standardisation is folded into
`weights`/`bias`, so the whole model is `features @ weights + bias -> softmax|sigmoid`, which the ONNX
exporter writes as MatMul -> Add -> Softmax/Sigmoid.

Regularisation: the objective is `sum of log-losses + ||W||^2 / (2 C)` (the bias is not penalised), the same
as scikit-learn's LogisticRegression. C is chosen by `choose_c`: a fixed default for small datasets, a
held-out log-loss search over a small grid once there are enough images to trust one split.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits  # a scikit-learn dependency, like scipy

from .backbone import CNN_DIM, FEATURE_DIM

DEFAULT_C = 1.0
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
MIN_IMAGES_FOR_SEARCH = 100   # below this one validation split is too noisy to pick C: use DEFAULT_C
MIN_PER_TAG_FOR_SEARCH = 10   # ... and each tag needs a few validation positives
SEARCH_MAX_IMAGES = 2000      # subsample bigger sets for the C search only (keeps training a few seconds)
MAX_ITER = 500
ABSENT_LOGIT_GAP = 20.0       # multiclass tags with no training image sit this far below the others


@dataclass
class Head:
    weights: np.ndarray  # [D, K] float32, standardisation folded in
    bias: np.ndarray  # [K] float32
    multilabel: bool

    def logits(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, dtype=np.float32) @ self.weights + self.bias

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """[N, D] features -> [N, K] float32 probabilities (softmax rows sum to 1; sigmoids are independent)."""
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
        np.savez(target, weights=self.weights, bias=self.bias, multilabel=np.array(self.multilabel))

    @classmethod
    def load(cls, source) -> "Head":
        """From a path or a binary file object.

        A head trained on the backbone's channels alone (before the thumbnail features were appended after
        them) gets zero weights for the thumbnail: it gives exactly the answers it was trained to give, in
        serving and in export alike.
        """
        with np.load(source if hasattr(source, "read") else Path(source), allow_pickle=False) as data:
            weights = data["weights"].astype(np.float32)
            if weights.shape[0] == CNN_DIM:
                weights = np.vstack([weights, np.zeros((FEATURE_DIM - CNN_DIM, weights.shape[1]), np.float32)])
            return cls(weights=weights, bias=data["bias"].astype(np.float32), multilabel=bool(data["multilabel"]))


def fit_head(features: np.ndarray, labels: np.ndarray, multilabel: bool, c: float | None = None) -> Head:
    """Train a head on [N, D] features and [N, K] boolean labels.

    Multiclass: each row's tag is its first True column; rows with no tag are left out of training.
    Tags with no training image (multiclass) or with all/no images (multilabel) cannot be learnt: they get
    zero weights and a constant bias (far below the others, or the logit of their smoothed frequency).
    `c` overrides the regularisation rule (see `choose_c`).
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

    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std < 1e-6] = 1.0  # constant dimensions carry no information; leave them unscaled
    z = ((x - mean) / std).astype(np.float32)

    learnt = _learnable_columns(y, multilabel)
    w = np.zeros((d, k))
    b = _constant_bias(y, multilabel, n)
    if learnt.sum() >= (1 if multilabel else 2):
        cols = np.flatnonzero(learnt)
        # One BLAS thread: these tall, thin products gain little from threads, and on a busy machine
        # (the service predicting, other trainings) spinning BLAS threads made fits 3-5x slower.
        with threadpool_limits(limits=1, user_api="blas"):
            c_value = choose_c(z, y[:, cols], multilabel) if c is None else c
            w_fit, b_fit = _fit_standardised(z, y[:, cols], multilabel, c_value)
        w[:, cols], b[cols] = w_fit, b_fit
        if not multilabel:
            b[~learnt] = b_fit.min() - ABSENT_LOGIT_GAP
    elif not multilabel:
        b[:] = np.where(learnt, 0.0, -ABSENT_LOGIT_GAP)  # a single tag: it always wins

    # Fold the standardisation in: ((x - mean) / std) @ w + b == x @ (w / std) + (b - (mean / std) @ w).
    weights = w / std[:, None]
    bias = b - (mean / std) @ w
    return Head(weights=weights.astype(np.float32), bias=bias.astype(np.float32), multilabel=multilabel)


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


def _fit_standardised(z, y, multilabel, c, start=None):
    """Minimise sum of log-losses + ||W||^2 / (2c) with L-BFGS; returns (W [D,K], b [K])."""
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

    def objective(theta):
        w = theta[:-k].reshape(d, k)
        logits = (z32 @ w.astype(np.float32)).astype(np.float64) + theta[-k:]
        loss, residual = _loss_and_residual(logits, yf, multilabel)
        grad_w = (z32.T @ residual.astype(np.float32)).astype(np.float64) + w / c
        return loss + 0.5 * np.sum(w * w) / c, np.concatenate([grad_w.ravel(), residual.sum(axis=0)])

    result = minimize(objective, theta0, jac=True, method="L-BFGS-B",
                      options={"maxiter": MAX_ITER, "gtol": 1e-5 * max(1, n)})
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
