"""A trained classifier (frozen backbone + linear head) as one self-contained ONNX model."""
from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .backbone import BACKBONE_NAME, FEATURE_DIM, INPUT_SIZE, backbone_model_bytes

_ACTIVATIONS = {"softmax": "Softmax", "sigmoid": "Sigmoid"}


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
    onnx.helper.set_model_props(model, {"labels": json.dumps(list(labels)), "activation": activation,
                                        "backbone": BACKBONE_NAME})
    return model
