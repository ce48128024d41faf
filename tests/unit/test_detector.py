"""The detector end to end on generated pictures: training, detect, proposals, stored form, the graph against
the numpy model it was trained as, refusals. (Real photos: tests/integration/test_detection_animals.py.)"""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cvlocal.model.detection import (MAX_DETECTIONS, Box, Detector, DetectorBudgetExceeded, LabelledImage,
                                     train_with_held_out)
from cvlocal.model.detection.head import Projection

SHAPES = ("square", "disc")


def picture(rng: np.random.Generator) -> LabelledImage:
    """A noisy green field with one or two objects: orange squares (tag 0) or blue discs (tag 1)."""
    w, h = int(rng.integers(300, 480)), int(rng.integers(240, 400))
    pixels = (rng.normal(0, 25, (h, w, 3)) + [90, 140, 70]).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(pixels)
    draw = ImageDraw.Draw(img)
    boxes = []
    for _ in range(int(rng.integers(1, 3))):
        tag = int(rng.integers(0, 2))
        size = rng.uniform(0.25, 0.45)
        bw, bh = size * min(w, h) / w, size * min(w, h) / h
        left, top = rng.uniform(0, 1 - bw), rng.uniform(0, 1 - bh)
        if any(abs(left - b.left) < bw and abs(top - b.top) < bh for b in boxes):
            continue
        xy = [left * w, top * h, (left + bw) * w, (top + bh) * h]
        (draw.rectangle if tag == 0 else draw.ellipse)(xy, fill=(235, 140, 30) if tag == 0 else (40, 70, 220))
        boxes.append(Box(tag, left, top, bw, bh))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return LabelledImage(buf.getvalue(), tuple(boxes))


@pytest.fixture(scope="module")
def pictures():
    rng = np.random.default_rng(7)
    return [picture(rng) for _ in range(24)]


@pytest.fixture(scope="module")
def trained(pictures):
    timings = {}
    detector, held_out = train_with_held_out(pictures[:18], 2, "Regular", timings=timings)
    return detector, held_out, timings


def test_training_reports_its_stages_and_held_out_detections(trained, pictures):
    detector, held_out, timings = trained
    assert {"decode_s", "features_s", "head_s", "held_out_s"} <= set(timings)
    assert len(held_out) == 18
    assert detector.backbones == ("efficientnet-lite0",)


def test_detect_finds_the_objects_on_pictures_it_did_not_train_on(trained, pictures):
    detector, _, _ = trained
    overlaps = []
    for image in pictures[18:]:
        found = detector.detect(image.data)
        assert found == sorted(found, key=lambda d: -d.probability) and len(found) <= MAX_DETECTIONS
        for d in found:
            assert 0 <= d.left <= 1 and 0 <= d.top <= 1 and d.left + d.width <= 1 + 1e-6
            assert d.top + d.height <= 1 + 1e-6 and 0.01 < d.probability <= 1
        for truth in image.boxes:  # the best overlap of a detection of the object's tag among the top five
            overlaps.append(max((_iou(d, truth) for d in found[:5] if d.tag == truth.tag), default=0.0))
    assert np.mean(np.array(overlaps) >= 0.5) >= 0.7, overlaps


def test_stored_form_round_trips_to_the_same_answers(trained, pictures):
    detector, _, _ = trained
    again = Detector.from_bytes(detector.to_bytes())
    assert again.detect(pictures[20].data) == detector.detect(pictures[20].data)
    with pytest.raises(ValueError):
        Detector.from_bytes(b"not a detector")


def test_the_graph_computes_what_the_model_was_trained_as(trained, pictures):
    """Held-out detections and training use the numpy model; predictions the ONNX graph: the same numbers."""
    from cvlocal.model.detection.features import FeatureMaps

    detector, _, _ = trained
    model = detector.model
    pixels = np.stack([detector.pixels(p.data) for p in pictures[18:21]])
    maps = {}
    for b in model.backbones:
        maps.update({(b, t): m for t, m in FeatureMaps(b, model.size, model.taps(b)).run(pixels).items()})
    boxes, probs = model.candidates(model.project(maps))
    graph_boxes, graph_probs = detector.candidates(pixels)
    np.testing.assert_allclose(graph_boxes, boxes, atol=2e-4)
    np.testing.assert_allclose(graph_probs, probs, atol=2e-4)


def test_region_proposals_are_tag_agnostic_boxes_with_confidences(trained, pictures):
    detector, _, _ = trained
    proposals = detector.region_proposals(pictures[19].data)
    assert proposals and len(proposals) <= MAX_DETECTIONS
    confidences = [p[0] for p in proposals]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0 <= v <= 1 for p in proposals for v in p)


def test_bad_input_is_refused(trained, pictures):
    detector, _, _ = trained
    with pytest.raises(ValueError):
        detector.detect(b"\x89PNG not really")
    with pytest.raises(ValueError):
        train_with_held_out([LabelledImage(pictures[0].data, (Box(1, 0.1, 0.1, 0.2, 0.2),))], 1, "Regular")
    with pytest.raises(ValueError):
        train_with_held_out([LabelledImage(pictures[0].data, (Box(0, 0.1, 0.1, 0.0, 0.2),))], 1, "Regular")
    with pytest.raises(ValueError):
        train_with_held_out(pictures[:3], 2, "Fancy")
    with pytest.raises(DetectorBudgetExceeded):
        train_with_held_out(pictures[:3], 2, "Regular", time_left=lambda: 0.0)


def test_projection_keeps_the_leading_directions():
    rng = np.random.default_rng(0)
    maps = rng.random((4, 8, 5, 5)).astype(np.float32) ** 2
    p = Projection.fit(maps, 3)
    assert p.basis.shape == (8, 3) and p.apply(maps).shape == (4, 3, 5, 5)
    np.testing.assert_allclose(p.basis.T @ p.basis, np.eye(3), atol=1e-5)


def _iou(d, b) -> float:
    x1, y1 = max(d.left, b.left), max(d.top, b.top)
    x2, y2 = min(d.left + d.width, b.left + b.width), min(d.top + d.height, b.top + b.height)
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / (d.width * d.height + b.width * b.height - inter)
