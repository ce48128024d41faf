"""Non-maximum suppression: the rule of Microsoft's ONNX object-detection sample, which a client of the export
runs (Azure-Samples/customvision-export-samples, samples/python/onnx/object_detection/predict.py)."""
from __future__ import annotations

import numpy as np

from cvlocal.model.detection import MAX_DETECTIONS
from cvlocal.model.detection.nms import non_max_suppression


def sample_nms(boxes, class_probs, max_detections=64, prob_threshold=0.01, iou_threshold=0.45):
    """The sample's NonMaxSuppression.__call__, as it reads (boxes [x, y, x2, y2])."""
    classes = np.argmax(class_probs, axis=1)
    probs = class_probs[np.arange(len(class_probs)), classes]
    valid = probs > prob_threshold
    boxes, classes, probs = boxes[valid, :], classes[valid], probs[valid]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    selected_boxes, selected_classes, selected_probs = [], [], []
    max_detections = min(max_detections, len(boxes))
    while len(selected_boxes) < max_detections:
        i = np.argmax(probs)
        if probs[i] < prob_threshold:
            break
        selected_boxes.append(boxes[i])
        selected_classes.append(classes[i])
        selected_probs.append(probs[i])
        box = boxes[i]
        other = np.concatenate((np.arange(i), np.arange(i + 1, len(boxes))))
        xy = np.maximum(box[0:2], boxes[other][:, 0:2])
        xy2 = np.minimum(box[2:4], boxes[other][:, 2:4])
        wh = np.maximum(0, xy2 - xy)
        overlap = wh[:, 0] * wh[:, 1]
        iou = overlap / (areas[i] + areas[other] - overlap)
        overlapping = np.append(other[np.where(iou > iou_threshold)[0]], i)
        probs[overlapping] = 0
    return np.array(selected_boxes).reshape(-1, 4), np.array(selected_classes), np.array(selected_probs)


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
