"""How training images are split for held-out detections: k folds by image position, known to both sides.

`held_out_detections` predicts each image with a model trained on the other folds, and `detection_performance`
computes its standard deviations over the same folds, so the service needs to keep nothing but the order.
"""
from __future__ import annotations

import numpy as np

MAX_FOLDS = 5


def fold_count(n_images: int) -> int:
    """k = 5, fewer when there are fewer images (at least 1: one image cannot be held out from itself)."""
    return max(1, min(MAX_FOLDS, n_images))


def fold_of(n_images: int) -> np.ndarray:
    """[n] fold numbers: a fixed shuffle dealt round the folds, so neighbouring images (often of one
    session or one tag) land in different folds and every fold is within one image of the others' size."""
    k = fold_count(n_images)
    order = np.random.default_rng(0).permutation(n_images)
    folds = np.empty(n_images, np.int64)
    folds[order] = np.arange(n_images) % k
    return folds
