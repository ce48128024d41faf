"""Held-out evaluation of a head, reported as Custom Vision's IterationPerformance.

`cross_validate` predicts every training image with a head that did not see it (stratified k-fold), once
per training run. `performance` then turns those held-out probabilities into precision / recall / average
precision at any requested threshold, cheaply, so the API can answer for any `threshold` without retraining.

Definitions (the portal's wording, made exact):
- An image is "predicted as" a tag when that tag's probability >= threshold (multiclass too: an image whose
  top probability is under the threshold predicts nothing; at thresholds under 0.5 it may predict several).
- Precision = TP / (TP + FP); when nothing is predicted it is 0.0 if the tag had images (they were all
  missed) and 1.0 if it had none (nothing was wrong). Recall = TP / (TP + FN); 1.0 when the tag had no
  images (nothing was missed).
- Overall precision and recall are micro-averaged: the same formulas over all (image, tag) decisions.
- Average precision (AP) of a tag: area under its precision-recall curve from the held-out probabilities,
  threshold-independent, as the step sum  sum_n (R_n - R_{n-1}) P_n  over the distinct probability values
  taken in decreasing order (scikit-learn's `average_precision_score`, no interpolation). A tag with no
  images has AP 0.0 and is left out of the overall AP, which is the mean of the per-tag APs (mAP).
- Standard deviations are population standard deviations (ddof=0) of the metric computed on each fold
  separately, over the folds where it is defined (a nonempty denominator); 0.0 with fewer than 2 such folds.
"""
from __future__ import annotations

import io
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from cvlocal.model.head import Head, fit_head, label_strata

DEFAULT_THRESHOLD = 0.5


@dataclass
class HeldOut:
    probabilities: np.ndarray  # [N, K] float32, each image predicted by a head trained without its fold
    labels: np.ndarray  # [N, K] bool
    folds: np.ndarray  # [N] int, the fold each image was held out in

    def to_bytes(self) -> bytes:
        """The stored form (an .npz), as the store keeps it as a blob."""
        buf = io.BytesIO()
        np.savez(buf, probabilities=self.probabilities, labels=self.labels, folds=self.folds)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "HeldOut":
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            return cls(probabilities=stored["probabilities"].astype(np.float32),
                       labels=stored["labels"].astype(bool), folds=stored["folds"].astype(np.int64))

    def save(self, path) -> None:
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path) -> "HeldOut":
        return cls.from_bytes(Path(path).read_bytes())


def fold_count(labels: np.ndarray, multilabel: bool, max_folds: int = 5) -> int:
    """k = min(max_folds, images of the smallest tag), at least 2 (tags with no image are ignored)."""
    counts = np.asarray(labels, dtype=bool).sum(axis=0)
    counts = counts[counts > 0]
    smallest = int(counts.min()) if len(counts) else len(labels)
    return max(2, min(max_folds, smallest, len(labels)))


def cross_validate(features: np.ndarray, labels: np.ndarray, multilabel: bool,
                   max_folds: int = 5, seed: int = 0, fit: Callable[..., Head] | None = None,
                   training_views: Sequence[np.ndarray] | None = None, start: Head | None = None,
                   workers: int = 1) -> HeldOut:
    """Held-out probabilities for every image by stratified k-fold cross-validation (see `fold_count`).

    Each fold's head is `fit(x, y, multilabel)` (default: `fit_head`'s own rules) and predicts the fold's
    images from `features`. `training_views` (arrays aligned with `features`, e.g. each image and its mirror
    image) replace `features` as the training rows: every training image gives one row per view, and a held-out
    image's views all stay out of training. Multilabel folds are stratified on each image's rarest tag. With
    fewer than 2 images there is nothing to hold out: the single image is predicted by a head trained on it
    (folds all 0).

    `start`: the head trained on every image, which each fold's fit starts from (`fit(x, y, multilabel,
    start=start)`): a fold's optimum lies near it, so the folds take a fraction of the solver's steps, and their
    held-out probabilities differ from cold starts' by the solver's tolerance (on the 2,640 grocery photos: the
    same top tag for every image, 4e-5 apart on average). `workers`: folds fitted side by side in threads (each
    fit's matrix products use one BLAS thread and release the GIL).
    """
    fit = fit or fit_head
    x = np.asarray(features, dtype=np.float32)
    y = np.asarray(labels, dtype=bool)
    n, k = y.shape
    views = [x] if training_views is None else [np.asarray(v, dtype=np.float32) for v in training_views]
    if len(x) != n or any(len(v) != n for v in views):
        raise ValueError(f"{len(x)} feature rows (and views of {[len(v) for v in views]}) for {n} label rows")

    def train(rows: np.ndarray) -> Head:
        started = {} if start is None else {"start": start}
        return fit(np.vstack([v[rows] for v in views]), np.vstack([y[rows]] * len(views)), multilabel, **started)

    if n < 2:
        return HeldOut(train(np.arange(n)).predict_proba(x), y.copy(), np.zeros(n, dtype=np.int64))

    folds = _assign_folds(y, multilabel, fold_count(y, multilabel, max_folds), seed)

    def held_out(f: int) -> np.ndarray:
        test = folds == f
        try:
            return train(np.flatnonzero(~test)).predict_proba(x[test])
        except ValueError:  # a training split with no labelled image: knows nothing, says so
            return np.full((int(test.sum()), k), 0.5 if multilabel else 1.0 / k, np.float32)

    probabilities = np.zeros((n, k), dtype=np.float32)
    # One BLAS thread for the whole pool: the fits' own limits then never hand a thread more while another runs.
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(max(1, workers)) as pool:
        for f, p in zip(np.unique(folds), pool.map(held_out, np.unique(folds))):
            probabilities[folds == f] = p
    return HeldOut(probabilities, y.copy(), folds)


def _assign_folds(y, multilabel, n_folds, seed):
    # Imported here, not with the module: scikit-learn (and the scipy it loads) is most of the CPU a service
    # spends starting, and a service that only predicts never needs it.
    from sklearn.model_selection import KFold, StratifiedKFold

    strata = label_strata(y, multilabel)
    folds = np.zeros(len(y), dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the least populated class has only m members": expected here
        try:
            splits = StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(y, strata)
            splits = list(splits)
        except ValueError:  # every stratum smaller than k: plain shuffled folds
            splits = list(KFold(n_folds, shuffle=True, random_state=seed).split(y))
    for f, (_, test) in enumerate(splits):
        folds[test] = f
    return folds


def performance(held_out: HeldOut, threshold: float | None, tags: list[tuple[str, str]]) -> dict:
    """Custom Vision IterationPerformance (camelCase, plain floats) at `threshold` (0.5 when None).

    `tags` are (id, name) pairs in label column order. See the module docstring for the definitions.
    """
    t = DEFAULT_THRESHOLD if threshold is None else float(threshold)
    p = np.asarray(held_out.probabilities, dtype=np.float64)
    y = np.asarray(held_out.labels, dtype=bool)
    folds = np.asarray(held_out.folds)
    if len(tags) != y.shape[1]:
        raise ValueError(f"{len(tags)} tags for {y.shape[1]} label columns")
    predicted = p >= t
    fold_masks = [folds == f for f in np.unique(folds)]

    per_tag, aps = [], []
    for j, (tag_id, name) in enumerate(tags):
        pj, yj = predicted[:, j], y[:, j]
        ap = average_precision(p[:, j], yj)
        if yj.any():
            aps.append(ap)
        per_tag.append({
            "id": tag_id,
            "name": name,
            "precision": _precision(pj, yj),
            "precisionStdDeviation": _fold_std(_precision, pj, yj, fold_masks, lambda m: pj[m].any()),
            "recall": _recall(pj, yj),
            "recallStdDeviation": _fold_std(_recall, pj, yj, fold_masks, lambda m: yj[m].any()),
            "averagePrecision": ap,
        })
    return {
        "perTagPerformance": per_tag,
        "precision": _precision(predicted, y),
        "precisionStdDeviation": _fold_std(_precision, predicted, y, fold_masks, lambda m: predicted[m].any()),
        "recall": _recall(predicted, y),
        "recallStdDeviation": _fold_std(_recall, predicted, y, fold_masks, lambda m: y[m].any()),
        "averagePrecision": float(np.mean(aps)) if aps else 0.0,
    }


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """Non-interpolated area under the precision-recall curve; 0.0 when there are no positives."""
    scores = np.asarray(scores, dtype=np.float64)
    positives = np.asarray(positives, dtype=bool)
    total = positives.sum()
    if total == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    s, hits = scores[order], positives[order]
    tp = np.cumsum(hits)
    # Tied scores are one threshold: evaluate only at the last image of each run of equal scores.
    last_of_tie = np.r_[s[1:] != s[:-1], True]
    tp_at = tp[last_of_tie]
    precision_at = tp_at / (np.flatnonzero(last_of_tie) + 1)
    recall_gain = np.diff(np.r_[0, tp_at]) / total
    return float(np.sum(recall_gain * precision_at))


def _precision(predicted, actual) -> float:
    n_predicted = int(predicted.sum())
    if n_predicted == 0:
        return 0.0 if actual.any() else 1.0
    return float((predicted & actual).sum() / n_predicted)


def _recall(predicted, actual) -> float:
    n_actual = int(actual.sum())
    if n_actual == 0:
        return 1.0
    return float((predicted & actual).sum() / n_actual)


def _fold_std(metric, predicted, actual, fold_masks, defined) -> float:
    values = [metric(predicted[m], actual[m]) for m in fold_masks if defined(m)]
    return float(np.std(values)) if len(values) >= 2 else 0.0
