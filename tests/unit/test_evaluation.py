"""Held-out evaluation: cross-validation folds and Custom Vision's IterationPerformance numbers."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cvlocal.model.evaluation import HeldOut, average_precision, cross_validate, fold_count, performance

TAGS2 = [("id-a", "A"), ("id-b", "B")]
TAG_KEYS = {"id", "name", "precision", "precisionStdDeviation", "recall", "recallStdDeviation",
            "averagePrecision"}
TOP_KEYS = {"perTagPerformance", "precision", "precisionStdDeviation", "recall", "recallStdDeviation",
            "averagePrecision"}


def crafted() -> HeldOut:
    """Four images, two tags, two folds:
        image  P(A)  P(B)  tag  fold
          0    0.9   0.1    A    0
          1    0.6   0.4    B    0
          2    0.2   0.8    B    1
          3    0.4   0.6    A    1
    """
    return HeldOut(probabilities=np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.4, 0.6]], np.float32),
                   labels=np.array([[1, 0], [0, 1], [0, 1], [1, 0]], bool),
                   folds=np.array([0, 0, 1, 1]))


def _check_shape(perf, tags):
    assert set(perf) == TOP_KEYS
    assert [(t["id"], t["name"]) for t in perf["perTagPerformance"]] == tags
    for entry in perf["perTagPerformance"]:
        assert set(entry) == TAG_KEYS
    numbers = [v for k, v in perf.items() if k != "perTagPerformance"]
    numbers += [v for t in perf["perTagPerformance"] for k, v in t.items() if k not in ("id", "name")]
    assert all(type(v) is float and math.isfinite(v) for v in numbers)
    json.dumps(perf, allow_nan=False)


def test_hand_computed_metrics_at_threshold_one_half():
    perf = performance(crafted(), 0.5, TAGS2)
    _check_shape(perf, TAGS2)
    a, b = perf["perTagPerformance"]
    # Predicted A: images 0, 1 (TP 0, FP 1); A's images are 0, 3 (3 missed): precision 1/2, recall 1/2.
    assert a["precision"] == 0.5 and a["recall"] == 0.5
    # Predicted B: images 2, 3 (TP 2, FP 3); B's images are 1, 2 (1 missed): precision 1/2, recall 1/2.
    assert b["precision"] == 0.5 and b["recall"] == 0.5
    # Per fold, A: fold 0 predicts {0,1} -> precision 1/2, recall 1/1; fold 1 predicts nothing (precision
    # undefined there, so one value -> std 0), recall 0/1. Recall std = std([1, 0]) = 0.5.
    assert a["precisionStdDeviation"] == 0.0 and a["recallStdDeviation"] == 0.5
    # B mirrors it: fold 0 predicts nothing, recall 0/1; fold 1 predicts {2,3} -> 1/2, recall 1/1.
    assert b["precisionStdDeviation"] == 0.0 and b["recallStdDeviation"] == 0.5
    # AP of A: scores 0.9(A) 0.6(-) 0.4(A) 0.2(-): recall steps of 1/2 at precision 1/1 and 2/3
    # -> 1/2 * 1 + 1/2 * 2/3 = 5/6. B: 0.8(B) 0.6(-) 0.4(B) 0.1(-): the same 5/6.
    assert a["averagePrecision"] == pytest.approx(5 / 6) and b["averagePrecision"] == pytest.approx(5 / 6)
    # Overall, micro: 4 predictions, 2 right; 4 (image, tag) positives, 2 found. Each fold: 1/2 and 1/2.
    assert perf["precision"] == 0.5 and perf["recall"] == 0.5
    assert perf["precisionStdDeviation"] == 0.0 and perf["recallStdDeviation"] == 0.0
    assert perf["averagePrecision"] == pytest.approx(5 / 6)


def test_hand_computed_metrics_at_other_thresholds():
    # 0.35: A predicted for 0, 1, 3 (2 right of 3, both A's found); B for 1, 2, 3 (2 of 3, both found).
    perf = performance(crafted(), 0.35, TAGS2)
    assert perf["precision"] == pytest.approx(4 / 6) and perf["recall"] == 1.0
    assert [t["recall"] for t in perf["perTagPerformance"]] == [1.0, 1.0]
    # 0.85: only image 0 as A (right): precision 1, recall 1/4 overall; B predicts nothing but has images.
    perf = performance(crafted(), 0.85, TAGS2)
    assert perf["precision"] == 1.0 and perf["recall"] == 0.25
    a, b = perf["perTagPerformance"]
    assert (a["precision"], a["recall"], b["precision"], b["recall"]) == (1.0, 0.5, 0.0, 0.0)
    # AP does not depend on the threshold.
    assert perf["averagePrecision"] == pytest.approx(5 / 6)
    # No threshold: the portal's default 0.5.
    assert performance(crafted(), None, TAGS2) == performance(crafted(), 0.5, TAGS2)


def test_raising_the_threshold_trades_recall_for_precision():
    x, y = _noisy_blobs()
    held_out = cross_validate(x, y, multilabel=False)
    tags = [(str(i), str(i)) for i in range(y.shape[1])]
    results = [performance(held_out, t, tags) for t in (0.2, 0.5, 0.8, 0.95)]
    recalls = [r["recall"] for r in results]
    precisions = [r["precision"] for r in results]
    assert recalls == sorted(recalls, reverse=True) and recalls[0] > recalls[-1]
    assert precisions[-1] > precisions[0]


def test_average_precision_matches_scikit_learn_including_ties():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(0)
    for _ in range(20):
        scores = rng.integers(0, 5, size=30) / 4.0  # many ties
        positives = rng.random(30) < 0.4
        if positives.any():
            assert average_precision(scores, positives) == pytest.approx(average_precision_score(positives, scores))
    assert average_precision([0.5, 0.5], [True, False]) == 0.5  # one threshold: precision 1/2 at recall 1
    assert average_precision([0.9, 0.1], [False, False]) == 0.0


def test_edge_cases_never_give_nan():
    held_out = HeldOut(probabilities=np.array([[0.2, 0.3, 0.1], [0.3, 0.2, 0.1]], np.float32),
                       labels=np.array([[1, 0, 0], [0, 1, 0]], bool), folds=np.array([0, 1]))
    tags = [("a", "a"), ("b", "b"), ("c", "never used")]
    perf = performance(held_out, 0.5, tags)
    _check_shape(perf, tags)
    a, b, c = perf["perTagPerformance"]
    assert (a["precision"], a["recall"]) == (0.0, 0.0)  # nothing predicted, images missed
    assert (c["precision"], c["recall"], c["averagePrecision"]) == (1.0, 1.0, 0.0)  # nothing to find
    # a and b each rank their one image second (precision 1/2 at recall 1): AP 1/2. c has no images, so the
    # overall AP is the mean over a and b only: 1/2 (counting c's 0.0 would give 1/3).
    assert a["averagePrecision"] == b["averagePrecision"] == 0.5
    assert perf["averagePrecision"] == 0.5


def test_multiclass_image_under_the_threshold_predicts_nothing():
    held_out = HeldOut(probabilities=np.array([[0.45, 0.35, 0.2]], np.float32),
                       labels=np.array([[1, 0, 0]], bool), folds=np.array([0]))
    tags = [("a", "a"), ("b", "b"), ("c", "c")]
    assert performance(held_out, 0.5, tags)["recall"] == 0.0
    assert performance(held_out, 0.4, tags)["recall"] == 1.0


def test_folds_are_stratified_and_hold_every_image_out_once():
    x, y = _noisy_blobs(per_tag=(3, 7, 9))
    assert fold_count(y, multilabel=False) == 3  # the smallest tag has 3 images
    held_out = cross_validate(x, y, multilabel=False)
    assert held_out.folds.shape == (19,) and set(held_out.folds) == {0, 1, 2}
    for f in range(3):
        assert y[held_out.folds == f].sum(axis=0)[0] == 1  # each fold holds one image of the smallest tag
    assert held_out.probabilities.shape == y.shape and held_out.probabilities.dtype == np.float32
    assert fold_count(np.eye(2, dtype=bool)[[0, 1, 1, 1]], multilabel=False) == 2  # at least 2
    assert fold_count(np.eye(2, dtype=bool)[np.arange(100) % 2], multilabel=False) == 5  # at most 5


def test_predictions_are_really_held_out():
    """Pure noise with 200 dimensions: any 60 images are separable in-sample, but not out of sample."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 200)).astype(np.float32)
    y = np.eye(2, dtype=bool)[np.arange(60) % 2]
    held_out = cross_validate(x, y, multilabel=False)
    accuracy = (held_out.probabilities.argmax(axis=1) == y.argmax(axis=1)).mean()
    assert 0.25 < accuracy < 0.75


def test_separable_data_scores_perfectly():
    x, y = _noisy_blobs(spread=0.2)
    tags = [(str(i), f"tag{i}") for i in range(3)]
    for multilabel in (False, True):
        perf = performance(cross_validate(x, y, multilabel=multilabel), 0.5, tags)
        _check_shape(perf, tags)
        assert (perf["precision"], perf["recall"], perf["averagePrecision"]) == (1.0, 1.0, 1.0)


def test_multilabel_cross_validation():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(90, 12)).astype(np.float32)
    y = np.stack([x[:, 0] > 0.3, x[:, 1] > 0, x[:, 2] + x[:, 0] > 0], axis=1)
    held_out = cross_validate(x, y, multilabel=True)
    assert held_out.probabilities.shape == (90, 3)
    perf = performance(held_out, 0.5, [(str(i), str(i)) for i in range(3)])
    assert perf["precision"] > 0.85 and perf["recall"] > 0.85 and perf["averagePrecision"] > 0.9


def test_digits_cross_validated_accuracy():
    """scikit-learn's 8x8 digits, raw pixels: a working linear head gets ~96.7%; chance is 10%."""
    from sklearn.datasets import load_digits

    x, digit = load_digits(return_X_y=True)
    y = np.eye(10, dtype=bool)[digit]
    held_out = cross_validate(x, y, multilabel=False)
    assert set(held_out.folds) == {0, 1, 2, 3, 4}
    accuracy = (held_out.probabilities.argmax(axis=1) == digit).mean()
    assert 0.93 < accuracy <= 1.0
    perf = performance(held_out, 0.5, [(str(i), str(i)) for i in range(10)])
    assert perf["precision"] > 0.93 and perf["recall"] > 0.9 and perf["averagePrecision"] > 0.97


def test_held_out_save_and_load_round_trip(tmp_path):
    path = tmp_path / "held-out.bin"
    crafted().save(path)
    loaded = HeldOut.load(path)
    np.testing.assert_array_equal(loaded.probabilities, crafted().probabilities)
    np.testing.assert_array_equal(loaded.labels, crafted().labels)
    np.testing.assert_array_equal(loaded.folds, crafted().folds)
    assert performance(loaded, 0.5, TAGS2) == performance(crafted(), 0.5, TAGS2)


@pytest.mark.datasets
def test_fruit_meets_the_custom_vision_bar(datasets):
    """The real fruit set through the real backbone: precision, recall and AP >= 0.95 at threshold 0.5."""
    from cvlocal.model.backbone import get_backbone
    from cvlocal.model.preprocess import decode_for_model

    names = ["apple", "banana", "orange"]
    images, tag = [], []
    for i, name in enumerate(names):
        for path in sorted((datasets / "fruit" / name).iterdir()):
            images.append(decode_for_model(path.read_bytes()))
            tag.append(i)
    features = get_backbone().features(np.stack(images))
    labels = np.eye(3, dtype=bool)[tag]
    perf = performance(cross_validate(features, labels, multilabel=False), 0.5, [(n, n) for n in names])
    assert perf["precision"] >= 0.95 and perf["recall"] >= 0.95 and perf["averagePrecision"] >= 0.95
    for entry in perf["perTagPerformance"]:
        assert entry["precision"] >= 0.95 and entry["recall"] >= 0.95 and entry["averagePrecision"] >= 0.95


def _noisy_blobs(per_tag=(20, 20, 20), spread=1.5, dim=10, seed=3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(per_tag), dim)) * 2
    tag = np.repeat(np.arange(len(per_tag)), per_tag)
    x = centres[tag] + spread * rng.normal(size=(len(tag), dim))
    return x.astype(np.float32), np.eye(len(per_tag), dtype=bool)[tag]
