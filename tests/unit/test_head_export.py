"""Exporting heads of every training type: the ONNX model answers as the service computes it."""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from cvlocal.model.backbone import CNN_DIM, FEATURE_DIM, LITE0, LITE2, get_backbone
from cvlocal.model.head import LEGACY_INPUTS, Head, HeadInput
from cvlocal.model.onnx_export import build_classifier_model, build_head_model
from cvlocal.model.training_types import ADVANCED, REGULAR

LABELS = ["apple", "banana", "orange"]


def _head(inputs, test_time_flip=False, transform="none", multilabel=False, seed=0) -> Head:
    rng = np.random.default_rng(seed)
    width = sum(i.width for i in inputs)
    return Head(rng.normal(0, 0.05, (width, len(LABELS))).astype(np.float32),
                rng.normal(0, 0.5, len(LABELS)).astype(np.float32), multilabel, inputs, test_time_flip, transform)


def _images(n=3, seed=1) -> np.ndarray:
    """Smooth random crops [N,224,224,3] uint8 (upsampled noise: closer to photos than white noise)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    low = rng.integers(0, 256, (n, 12, 12, 3), dtype=np.uint8)
    return np.stack([np.asarray(Image.fromarray(a).resize((224, 224), Image.Resampling.BICUBIC)) for a in low])


def _service_answer(head: Head, nhwc: np.ndarray) -> np.ndarray:
    """What the service computes: each backbone on the crops (and their mirror images), then the head."""
    features = {b: get_backbone(b).features(nhwc) for b in head.backbones}
    mirrored = {b: get_backbone(b).features(np.ascontiguousarray(nhwc[:, :, ::-1])) for b in head.backbones} \
        if head.test_time_flip else None
    return head.predict_proba(head.input_from(features, mirrored))


def _exported_answer(model: onnx.ModelProto, nhwc: np.ndarray) -> np.ndarray:
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert session.get_inputs()[0].shape[1:] == [3, 224, 224]
    return session.run(["probabilities"], {"image": nhwc.transpose(0, 3, 1, 2).astype(np.float32)})[0]


def test_a_regular_head_exports_as_the_service_answers():
    head = _head(REGULAR.inputs, transform=REGULAR.transform)
    nhwc = _images()
    model = build_head_model(head, LABELS)
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["labels"]) == LABELS and meta["backbone"] == LITE0.name
    np.testing.assert_allclose(_exported_answer(model, nhwc), _service_answer(head, nhwc), atol=1e-5)


@pytest.mark.slow
def test_an_advanced_multilabel_head_exports_as_the_service_answers():
    head = _head(ADVANCED.inputs, ADVANCED.test_time_flip, ADVANCED.transform, multilabel=True, seed=2)
    nhwc = _images(seed=3)
    model = build_head_model(head, LABELS)
    assert {p.key: p.value for p in model.metadata_props}["backbone"] == f"{LITE0.name}+{LITE2.name}"
    got, want = _exported_answer(model, nhwc), _service_answer(head, nhwc)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.abs(got.sum(1) - 1).max() > 0.01  # sigmoids, not a softmax


def test_flip_and_sqrt_in_the_exported_graph_are_the_services():
    """A Lite0 head that averages the image with its mirror image and takes square roots: exported, it
    gives the service's answer, and not the answer without the mirror image."""
    head = _head((HeadInput(LITE0.name, CNN_DIM),), test_time_flip=True, transform="sqrt", seed=4)
    nhwc = _images(seed=5)
    got = _exported_answer(build_head_model(head, LABELS), nhwc)
    np.testing.assert_allclose(got, _service_answer(head, nhwc), atol=1e-5)
    no_flip = Head(head.weights, head.bias, False, head.inputs, False, "sqrt")
    assert np.abs(got - _service_answer(no_flip, nhwc)).max() > 1e-3


def test_heads_saved_before_inputs_were_recorded_export_exactly_as_before():
    head = _head(LEGACY_INPUTS, seed=6)
    assert head.weights.shape[0] == FEATURE_DIM
    assert build_head_model(head, LABELS).SerializeToString() == \
        build_classifier_model(head.weights, head.bias, "softmax", LABELS).SerializeToString()


def test_export_refuses_a_head_that_does_not_fit_its_labels():
    with pytest.raises(ValueError, match="labels"):
        build_head_model(_head(REGULAR.inputs), LABELS + ["pear"])
