"""A trained classifier (frozen backbones + linear head) as one self-contained ONNX model.

Exports follow the conventions of Azure's own ONNX exports, which Microsoft's export samples
(Azure-Samples/customvision-export-samples, `onnx/classification/predict.py`) and Windows ML read: one NCHW
float input at the model's size, the ONNX image metadata props (`Image.BitmapPixelFormat` Rgb8,
`Image.ColorSpaceGamma` SRGB, `Image.NominalPixelRange` NominalRange_0_255: the graph takes 0..255 and
normalises itself), the labels, and the per-tag probabilities as the first output, in the order of the labels.
A head trained on the squash preprocessing (model/preprocess.py) takes the whole image resized to 256x256, as
the samples feed it, and crops the centre 224 itself, so such a client gets the service's answer.
"""
from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .backbone import BACKBONE_NAME, FEATURE_DIM, INPUT_SIZE, backbone_model_bytes, backbone_spec
from .efficientnet_lite import IR_VERSION, OPSET
from .head import LEGACY_INPUTS, Head
from .preprocess import RESIZE_SHORT, SQUASH

_ACTIVATIONS = {"softmax": "Softmax", "sigmoid": "Sigmoid"}
# What the graph takes, in the ONNX metadata props' own words (onnx/docs/MetadataProps.md).
IMAGE_PROPS = {"Image.BitmapPixelFormat": "Rgb8", "Image.ColorSpaceGamma": "SRGB",
               "Image.NominalPixelRange": "NominalRange_0_255"}
INPUT_NAME, OUTPUT_NAME = "data", "model_outputs0"  # Azure's names for a classifier's input and first output


def build_classifier_model(weights: np.ndarray, bias: np.ndarray, activation: str,
                           labels: list[str]) -> onnx.ModelProto:
    """Backbone -> MatMul(weights [FEATURE_DIM,K]) + bias [K] -> softmax or sigmoid.

    Input ``image`` float32 [N,3,224,224] RGB 0..255; output ``probabilities`` float32 [N,K] in the order of
    ``labels`` (also stored as JSON in the metadata key ``labels``).
    """
    weights = np.asarray(weights, np.float32)
    bias = np.asarray(bias, np.float32)
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, not {activation!r}")
    k = len(labels)
    if weights.shape != (FEATURE_DIM, k) or bias.shape != (k,):
        raise ValueError(f"head shapes {weights.shape} and {bias.shape} do not fit {FEATURE_DIM} features "
                         f"and {k} labels")

    model = onnx.load_from_string(backbone_model_bytes())
    graph = model.graph
    graph.initializer.extend([numpy_helper.from_array(weights, "head.weights"),
                              numpy_helper.from_array(bias, "head.bias")])
    act = _ACTIVATIONS[activation]
    graph.node.extend([
        helper.make_node("MatMul", ["features", "head.weights"], ["head.matmul"]),
        helper.make_node("Add", ["head.matmul", "head.bias"], ["logits"]),
        helper.make_node(act, ["logits"], ["probabilities"], **({"axis": -1} if act == "Softmax" else {})),
    ])
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", k]))
    graph.name = f"{BACKBONE_NAME}-classifier"

    kind = "multiclass, probabilities sum to 1" if activation == "softmax" else \
        "multilabel, independent per-label probabilities"
    model.doc_string = (
        f"Image classifier: {BACKBONE_NAME} ImageNet backbone (frozen) + linear head, {kind}. "
        f"Input 'image': float32 [N,3,{INPUT_SIZE},{INPUT_SIZE}], RGB channels in 0..255 (not normalised; "
        f"the graph applies (x - 127) / 128), images resized with their short side to 256 (bicubic) and "
        f"centre-cropped to {INPUT_SIZE}. Output 'probabilities': float32 [N,{k}], one column per label in "
        f"the order of the metadata key 'labels' (a JSON list).")
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, {**IMAGE_PROPS, "labels": json.dumps(list(labels)),
                                        "activation": activation, "backbone": BACKBONE_NAME})
    return model


def build_head_model(head: Head, labels: list[str]) -> onnx.ModelProto:
    """A head of any training type as one ONNX model: the crop, its backbones, its input, the head.

    Input ``data`` float32 [N,3,S,S] RGB 0..255: S = 256 for a head trained on the squash preprocessing (the
    whole image resized to 256x256; the graph crops the centre 224), 224 for one trained on the short-side
    crop (the client crops). First output ``model_outputs0`` float32 [N,K]. Heads saved before heads recorded
    their input export exactly as before (`build_classifier_model`: input ``image``, output
    ``probabilities``). Each backbone's graph is copied in once under its own name prefix, the head reads the
    first `width` features of each input, and a head with `test_time_flip` runs the backbones on the images and
    their mirror images (one batch of 2N) and averages the two halves, as the service does.
    """
    activation = "sigmoid" if head.multilabel else "softmax"
    if exports_as_before(head):
        return build_classifier_model(head.weights, head.bias, activation, labels)
    k = len(labels)
    if head.weights.shape[1] != k:
        raise ValueError(f"a head of {head.weights.shape[1]} tags cannot be exported with {k} labels")
    sizes = {backbone_spec(b).input_size for b in head.backbones}
    if sizes != {INPUT_SIZE}:
        raise ValueError(f"every backbone of an exported head takes {INPUT_SIZE}x{INPUT_SIZE} images, not {sizes}")

    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = [numpy_helper.from_array(head.weights.astype(np.float32), "head.weights"),
                                     numpy_helper.from_array(head.bias.astype(np.float32), "head.bias")]

    def ints(name, values):
        inits.append(numpy_helper.from_array(np.array(values, np.int64), name))
        return name

    side, pixels = INPUT_SIZE, INPUT_NAME
    if head.resize == SQUASH:  # the centre 224 of the 256x256 image, exactly where the service crops it
        side, first = RESIZE_SHORT, round((RESIZE_SHORT - INPUT_SIZE) / 2)
        nodes.append(helper.make_node("Slice", [INPUT_NAME, ints("crop.starts", [first, first]),
                                                ints("crop.ends", [first + INPUT_SIZE] * 2),
                                                ints("crop.axes", [2, 3])], ["cropped"]))
        pixels = "cropped"
    if head.test_time_flip:  # [image; mirrored image] as one batch: the W axis of NCHW reversed
        nodes += [helper.make_node("Slice", [pixels, ints("flip.starts", [-1]),
                                             ints("flip.ends", [np.iinfo(np.int64).min]), ints("flip.axes", [3]),
                                             ints("flip.steps", [-1])], ["mirrored"]),
                  helper.make_node("Concat", [pixels, "mirrored"], ["image_and_mirrored"], axis=0)]
        pixels = "image_and_mirrored"

    outputs = {b: _copy_backbone(b, pixels, nodes, inits) for b in head.backbones}
    parts = []
    for n, i in enumerate(head.inputs):
        features = outputs[i.backbone]
        if i.width != backbone_spec(i.backbone).feature_dim:
            nodes.append(helper.make_node("Slice", [features, ints(f"input{n}.start", [0]),
                                                    ints(f"input{n}.end", [i.width]), ints(f"input{n}.axis", [1])],
                                          [f"input{n}"]))
            features = f"input{n}"
        parts.append(features)
    x = parts[0]
    if len(parts) > 1:
        nodes.append(helper.make_node("Concat", parts, ["head.input"], axis=1))
        x = "head.input"
    if head.test_time_flip:  # [2N, D] -> [2, N, D] -> the mean of each image's two views
        nodes += [helper.make_node("Reshape", [x, ints("views.shape", [2, -1, head.weights.shape[0]])],
                                   ["head.views"]),
                  helper.make_node("ReduceMean", ["head.views"], ["head.mean"], axes=[0], keepdims=0)]
        x = "head.mean"
    if head.transform == "sqrt":
        nodes.append(helper.make_node("Sqrt", [x], ["head.sqrt"]))
        x = "head.sqrt"
    act = _ACTIVATIONS[activation]
    nodes += [helper.make_node("MatMul", [x, "head.weights"], ["head.matmul"]),
              helper.make_node("Add", ["head.matmul", "head.bias"], ["logits"]),
              helper.make_node(act, ["logits"], [OUTPUT_NAME], **({"axis": -1} if act == "Softmax" else {}))]

    names = "+".join(head.backbones)
    graph = helper.make_graph(
        nodes, f"{names}-classifier",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 3, side, side])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", k])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="cvlocal",
                              ir_version=IR_VERSION)
    kind = "multiclass, probabilities sum to 1" if activation == "softmax" else \
        "multilabel, independent per-label probabilities"
    flip = " averaged over the image and its mirror image" if head.test_time_flip else ""
    model.doc_string = (
        f"Image classifier: {names} ImageNet backbones (frozen), features{flip}, + linear head, {kind}. "
        f"Input '{INPUT_NAME}': float32 [N,3,{side},{side}], RGB channels in 0..255 (not normalised), "
        + (f"the whole image resized to {side}x{side} (the graph crops the centre {INPUT_SIZE}). "
           if head.resize == SQUASH else
           f"the image resized with its short side to {RESIZE_SHORT} (bicubic) and centre-cropped to {side}. ")
        + f"Output '{OUTPUT_NAME}': float32 [N,{k}], one column per label in the order of the metadata key "
          "'labels' (and of labels.txt).")
    onnx.helper.set_model_props(model, {**IMAGE_PROPS, "labels": json.dumps(list(labels)),
                                        "activation": activation, "backbone": names, "resize": head.resize})
    return model


def exports_as_before(head: Head) -> bool:
    """A head saved before heads recorded their input (or one like it): exported as every export was then."""
    return head.inputs == LEGACY_INPUTS and not head.test_time_flip and head.transform == "none" \
        and head.resize != SQUASH


def _copy_backbone(backbone: str, pixels: str, nodes: list, inits: list) -> str:
    """The backbone's graph appended under the prefix "<name>/", reading `pixels`; returns its features."""
    graph = onnx.load_from_string(backbone_model_bytes(backbone)).graph
    prefix = f"{backbone}/"
    rename = {t.name: prefix + t.name for t in graph.initializer}
    rename.update({o: prefix + o for n in graph.node for o in n.output})
    rename["image"] = pixels
    for init in graph.initializer:
        copy = onnx.TensorProto()
        copy.CopyFrom(init)
        copy.name = rename[init.name]
        inits.append(copy)
    for node in graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.input[:] = [rename.get(x, x) if x else x for x in node.input]
        copy.output[:] = [rename[x] for x in node.output]
        copy.name = prefix + (node.name or node.output[0])
        nodes.append(copy)
    return prefix + "features"
