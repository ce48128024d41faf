"""Object-detection performance as Custom Vision reports it, against cases computed by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from cvlocal.model.detection import Box, Detection, detection_performance
from cvlocal.model.detection.folds import fold_of
from cvlocal.model.detection.metrics import iou, voc_average_precision


def det(tag, p, left, top, width, height):
    return Detection(tag, p, left, top, width, height)


def test_iou_of_known_boxes():
    assert iou((0, 0, 1, 1), np.array([[0, 0, 1, 1]]))[0] == pytest.approx(1.0)
    assert iou((0, 0, 0.5, 1), np.array([[0.25, 0, 0.5, 1]]))[0] == pytest.approx(0.25 / 0.75)
    assert iou((0, 0, 0.2, 0.2), np.array([[0.5, 0.5, 0.1, 0.1]]))[0] == 0.0
    assert iou((0, 0, 0, 0), np.array([[0, 0, 0, 0]]))[0] == 0.0  # no area: no overlap, no NaN


def test_two_images_two_tags_by_hand():
    """Tag 0 has two truth boxes: the detections, most probable first, are wrong (0.95), right (0.9), right
    (0.7): precision 1/1 at no point before the first hit, so AP = 0.5 * 2/3 + 0.5 * 2/3 (the envelope at
    recall 0.5 is 2/3, reached later). Tag 1: one truth, one exact detection."""
    truths = [[Box(0, 0.1, 0.1, 0.3, 0.3)], [Box(1, 0.5, 0.5, 0.2, 0.2), Box(0, 0.0, 0.0, 0.2, 0.2)]]
    predictions = [[det(0, 0.9, 0.1, 0.1, 0.3, 0.3)],
                   [det(1, 0.8, 0.5, 0.5, 0.2, 0.2), det(0, 0.7, 0.0, 0.0, 0.21, 0.2), det(0, 0.95, 0.6, 0.6, 0.2, 0.2)]]
    perf = detection_performance(predictions, truths, 2, threshold=0.5, overlap_threshold=0.5, folds=[0, 1])
    kangaroo, raccoon = perf.per_tag
    assert kangaroo.average_precision == pytest.approx(2 / 3)
    assert (kangaroo.precision, kangaroo.recall) == (pytest.approx(2 / 3), 1.0)
    assert (raccoon.precision, raccoon.recall, raccoon.average_precision) == (1.0, 1.0, 1.0)
    assert perf.mean_average_precision == pytest.approx((2 / 3 + 1) / 2)
    assert (perf.precision, perf.recall) == (pytest.approx(3 / 4), 1.0)
    # Per fold (= per image here), tag 0: precision 1/1 and 1/2 -> std 0.25; AP 1 and 0.5 -> std 0.25.
    assert (kangaroo.precision_std, kangaroo.ap_std, kangaroo.recall_std) == (0.25, 0.25, 0.0)
    # Image 1: its detections matched truth 0 (the raccoon), truth 1 (the kangaroo), nothing.
    assert perf.per_image[1].matches == (0, 1, None) and perf.per_image[1].missed == ()
    assert perf.per_image[0].matches == (0,) and perf.per_image[0].missed == ()


def test_all_points_interpolation_differs_from_the_plain_step_sum():
    """Right, wrong, wrong, right, right with three truths: precision 1, 1/2, 1/3, 1/2, 3/5 at recall 1/3,
    1/3, 1/3, 2/3, 1. Interpolated (the best precision at that recall or beyond): 1/3 * (1 + 3/5 + 3/5);
    the plain step sum would give 1/3 * (1 + 1/2 + 3/5)."""
    ap = voc_average_precision(np.array([0.9, 0.8, 0.7, 0.6, 0.5]), np.array([1, 0, 0, 1, 1], bool), 3)
    assert ap == pytest.approx((1 + 0.6 + 0.6) / 3)
    assert voc_average_precision(np.array([0.9]), np.array([True]), 2) == pytest.approx(0.5)  # half recalled
    assert voc_average_precision(np.array([]), np.array([], bool), 0) == 0.0


def test_overlap_threshold_decides_a_loose_box():
    """A box shifted right by 0.1286 overlaps its truth at IoU 0.4: right at overlap 0.3, wrong at 0.5."""
    truth = [[Box(0, 0.0, 0.0, 0.3, 0.3)]]
    loose = [[det(0, 0.9, 0.1286, 0.0, 0.3, 0.3)]]  # IoU = 0.1714 / 0.4286 = 0.4
    assert iou((0.1286, 0, 0.3, 0.3), np.array([[0, 0, 0.3, 0.3]]))[0] == pytest.approx(0.4, abs=1e-3)
    at_03 = detection_performance(loose, truth, 1, 0.5, 0.3)
    at_05 = detection_performance(loose, truth, 1, 0.5, 0.5)
    assert (at_03.precision, at_03.recall, at_03.mean_average_precision) == (1.0, 1.0, 1.0)
    assert (at_05.precision, at_05.recall, at_05.mean_average_precision) == (0.0, 0.0, 0.0)
    assert at_05.per_image[0].missed == (0,)


def test_each_truth_box_is_matched_once_and_tags_must_agree():
    truth = [[Box(0, 0.2, 0.2, 0.4, 0.4)]]
    dets = [[det(0, 0.9, 0.2, 0.2, 0.4, 0.4), det(0, 0.8, 0.21, 0.2, 0.4, 0.4), det(1, 0.95, 0.2, 0.2, 0.4, 0.4)]]
    perf = detection_performance(dets, truth, 2, 0.5, 0.5)
    assert perf.per_image[0].matches == (0, None, None)  # the duplicate and the wrong tag are false positives
    assert perf.per_tag[0].precision == 0.5 and perf.per_tag[0].recall == 1.0
    assert perf.per_tag[1].precision == 0.0  # a tag with no truth box: every detection of it is wrong
    assert perf.per_tag[1].recall == 1.0 and perf.per_tag[1].average_precision == 0.0
    assert perf.mean_average_precision == 1.0  # tags without truth boxes stay out of the mean


def test_threshold_cuts_precision_and_recall_not_average_precision():
    truth = [[Box(0, 0.0, 0.0, 0.5, 0.5)], [Box(0, 0.5, 0.5, 0.5, 0.5)]]
    dets = [[det(0, 0.9, 0.0, 0.0, 0.5, 0.5)], [det(0, 0.3, 0.5, 0.5, 0.5, 0.5)]]
    high = detection_performance(dets, truth, 1, 0.5, 0.5)
    low = detection_performance(dets, truth, 1, 0.2, 0.5)
    assert (high.precision, high.recall) == (1.0, 0.5)
    assert (low.precision, low.recall) == (1.0, 1.0)
    assert high.mean_average_precision == low.mean_average_precision == 1.0
    assert high.per_image[1].matches == (None,) and high.per_image[1].missed == (0,)


def test_nothing_predicted_and_nothing_there_never_gives_nan():
    perf = detection_performance([[], []], [[], [Box(0, 0, 0, 0.5, 0.5)]], 2, 0.5, 0.3)
    values = [perf.precision, perf.recall, perf.mean_average_precision, perf.precision_std, perf.recall_std,
              perf.map_std] + [v for t in perf.per_tag for v in vars(t).values()]
    assert all(math.isfinite(v) for v in values)
    assert (perf.per_tag[0].precision, perf.per_tag[0].recall) == (0.0, 0.0)  # its one box was missed
    assert (perf.per_tag[1].precision, perf.per_tag[1].recall) == (1.0, 1.0)  # nothing there, nothing said
    empty = detection_performance([], [], 1, 0.5, 0.5)
    assert (empty.precision, empty.recall, empty.mean_average_precision) == (1.0, 1.0, 0.0)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        detection_performance([[]], [[], []], 1, 0.5, 0.5)
    with pytest.raises(ValueError):
        detection_performance([[]], [[]], 1, 1.5, 0.5)
    with pytest.raises(ValueError):
        detection_performance([[det(3, 0.9, 0, 0, 1, 1)]], [[]], 2, 0.5, 0.5)
    with pytest.raises(ValueError):
        detection_performance([[]], [[Box(2, 0, 0, 1, 1)]], 2, 0.5, 0.5)


def test_folds_deal_every_image_once_in_near_equal_folds():
    folds = fold_of(23)
    assert sorted(np.bincount(folds)) == [4, 4, 5, 5, 5]
    assert (fold_of(23) == folds).all()  # the same for the same count: the service keeps nothing else
    assert list(fold_of(3)) and set(fold_of(3)) == {0, 1, 2}
    assert list(fold_of(1)) == [0]
