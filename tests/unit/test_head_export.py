"""Exporting heads of every training type: the ONNX model answers as the service computes it, and it follows the
conventions of Azure's exports (one NCHW float input, the image metadata props, the probabilities first)."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from cvlocal.model.backbone import CNN_DIM, FEATURE_DIM, LITE0, LITE2, get_backbone
from cvlocal.model.head import LEGACY_INPUTS, Head, HeadInput
from cvlocal.model.onnx_export import build_classifier_model, build_head_model
from cvlocal.model.training_types import ADVANCED, REGULAR
from harness import onnx_session

LABELS = ["apple", "banana", "orange"]
AZURE_PROPS = {"Image.BitmapPixelFormat": "Rgb8", "Image.ColorSpaceGamma": "SRGB",
               "Image.NominalPixelRange": "NominalRange_0_255"}


def _head(inputs, test_time_flip=False, transform="none", multilabel=False, seed=0, resize="squash") -> Head:
    rng = np.random.default_rng(seed)
    width = sum(i.width for i in inputs)
    return Head(rng.normal(0, 0.05, (width, len(LABELS))).astype(np.float32),
                rng.normal(0, 0.5, len(LABELS)).astype(np.float32), multilabel, inputs, test_time_flip, transform,
                resize)


def _images(n=3, seed=1, side=256) -> np.ndarray:
    """Smooth random images [N,side,side,3] uint8 (upsampled noise: closer to photos than white noise)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    low = rng.integers(0, 256, (n, 12, 12, 3), dtype=np.uint8)
    return np.stack([np.asarray(Image.fromarray(a).resize((side, side), Image.Resampling.BICUBIC)) for a in low])


def _service_answer(head: Head, nhwc: np.ndarray) -> np.ndarray:
    """What the service computes: the centre 224 (of a squashed 256x256 image), each backbone on it (and on its
    mirror image), then the head."""
    first = (nhwc.shape[1] - 224) // 2
    crops = np.ascontiguousarray(nhwc[:, first:first + 224, first:first + 224])
    features = {b: get_backbone(b).features(crops) for b in head.backbones}
    mirrored = {b: get_backbone(b).features(np.ascontiguousarray(crops[:, :, ::-1])) for b in head.backbones} \
        if head.test_time_flip else None
    return head.predict_proba(head.input_from(features, mirrored))


def _exported_answer(model: onnx.ModelProto, nhwc: np.ndarray) -> np.ndarray:
    """The model run as Azure's export samples run one: its one input by name and shape, its first output."""
    onnx.checker.check_model(model)
    session = onnx_session.session(model.SerializeToString())
    (tensor,) = session.get_inputs()
    assert tensor.type == "tensor(float)" and tensor.shape[1:] == [3, nhwc.shape[1], nhwc.shape[2]]
    return session.run(None, {tensor.name: nhwc.transpose(0, 3, 1, 2).astype(np.float32)})[0]


def test_a_regular_head_exports_in_azures_layout_and_answers_as_the_service():
    head = _head(REGULAR.inputs, transform=REGULAR.transform)
    nhwc = _images()
    model = build_head_model(head, LABELS)
    meta = {p.key: p.value for p in model.metadata_props}
    assert {k: meta[k] for k in AZURE_PROPS} == AZURE_PROPS
    assert json.loads(meta["labels"]) == LABELS and meta["backbone"] == LITE0.name
    assert [i.name for i in model.graph.input] == ["data"]
    assert [o.name for o in model.graph.output] == ["model_outputs0"]
    np.testing.assert_allclose(_exported_answer(model, nhwc), _service_answer(head, nhwc), atol=1e-5)
    # The graph crops the centre 224 itself: the border of the 256x256 input does not matter ...
    bordered = nhwc.copy()
    bordered[:, :16], bordered[:, -16:], bordered[:, :, :16], bordered[:, :, -16:] = 0, 255, 0, 255
    np.testing.assert_allclose(_exported_answer(model, bordered), _service_answer(head, nhwc), atol=1e-5)
    # ... and the centre does.
    assert np.abs(_exported_answer(model, np.roll(nhwc, 40, axis=2)) - _service_answer(head, nhwc)).max() > 1e-3


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
    no_flip = Head(head.weights, head.bias, False, head.inputs, False, "sqrt", "squash")
    assert np.abs(got - _service_answer(no_flip, nhwc)).max() > 1e-3


def test_a_head_of_the_short_side_crop_takes_the_crop():
    head = _head(REGULAR.inputs, seed=7, resize="short-side")
    nhwc = _images(seed=8, side=224)
    got = _exported_answer(build_head_model(head, LABELS), nhwc)
    np.testing.assert_allclose(got, _service_answer(head, nhwc), atol=1e-5)


def test_heads_saved_before_inputs_were_recorded_export_as_before_with_the_image_props():
    head = _head(LEGACY_INPUTS, seed=6, resize="short-side")
    assert head.weights.shape[0] == FEATURE_DIM
    model = build_head_model(head, LABELS)
    assert model.SerializeToString() == \
        build_classifier_model(head.weights, head.bias, "softmax", LABELS).SerializeToString()
    # The names and the input a client of those exports reads are unchanged; the props say what it always took.
    assert [i.name for i in model.graph.input] == ["image"] and [o.name for o in model.graph.output] == \
        ["probabilities"]
    meta = {p.key: p.value for p in model.metadata_props}
    assert {k: meta[k] for k in AZURE_PROPS} == AZURE_PROPS
    nhwc = _images(seed=9, side=224)
    np.testing.assert_allclose(_exported_answer(model, nhwc), _service_answer(head, nhwc), atol=1e-5)


def test_export_refuses_a_head_that_does_not_fit_its_labels():
    with pytest.raises(ValueError, match="labels"):
        build_head_model(_head(REGULAR.inputs), LABELS + ["pear"])
