"""Non-maximum suppression: the rule of Microsoft's ONNX object-detection sample, which a client of the export
runs (Azure-Samples/customvision-export-samples, samples/python/onnx/object_detection/predict.py)."""
from __future__ import annotations

import numpy as np

from cvlocal.model.detection import MAX_DETECTIONS
from cvlocal.model.detection.nms import non_max_suppression
from tests.integration.export_samples import sample_nms


def random_candidates(rng, n, k):
    xy = rng.random((n, 2)) * 0.8
    wh = rng.random((n, 2)) * 0.4 + 0.02
    return np.hstack([xy, xy + wh]), rng.random((n, k)) ** 3


def test_same_boxes_tags_and_order_as_the_sample_on_random_candidates():
    rng = np.random.default_rng(1)
    for n, k in ((5, 1), (300, 2), (1500, 3)):
        boxes, probs = random_candidates(rng, n, k)
        kept, tags, p = non_max_suppression(boxes, probs)
        want_boxes, want_tags, want_p = sample_nms(boxes.copy(), probs.copy())
        np.testing.assert_array_equal(boxes[kept], want_boxes)
        np.testing.assert_array_equal(tags, want_tags)
        np.testing.assert_allclose(p, want_p)


def test_overlapping_boxes_of_any_tag_are_suppressed_and_the_cap_holds():
    boxes = np.array([[0, 0, 0.5, 0.5], [0.01, 0, 0.5, 0.5], [0.6, 0.6, 0.9, 0.9], [0, 0, 0.1, 0.1]])
    probs = np.array([[0.9, 0.0], [0.0, 0.95], [0.5, 0.2], [0.005, 0.01]])
    kept, tags, p = non_max_suppression(boxes, probs)
    assert kept.tolist() == [1, 2]  # box 0 overlaps the more probable box 1; box 3 is at 0.01, not above it
    assert tags.tolist() == [1, 0] and p.tolist() == [0.95, 0.5]
    many = np.array([[i / 200, 0, i / 200 + 0.001, 0.001] for i in range(200)])
    kept, _, _ = non_max_suppression(many, np.full((200, 1), 0.5))
    assert len(kept) == MAX_DETECTIONS
    assert non_max_suppression(np.zeros((0, 4)), np.zeros((0, 2)))[0].shape == (0,)
