"""The model graph with another platform's input in front, and its float16 flavor, as ONNX.

`with_input` puts the convention's scaling in front of the graph's own input (OpenVINO's clients feed values
0..1; the graph takes 0..255), so converters that read ONNX (OpenVINO's) get a model that takes exactly what
the platform's clients feed. `float16` is the `OnnxFloat16` flavor: weights, input and output in float16, as
Microsoft's sample feeds it (`input_type` float16 from the session's input), computed in float32 inside (each
weight and the input cast up once), because ONNX Runtime's CPU kernels for these ops are float32.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .conventions import Convention
from .graph import ModelGraph


def with_input(graph: ModelGraph, convention: Convention, batch: int | None = None) -> onnx.ModelProto:
    """The graph taking the convention's NCHW input (scaled values; RGB, as the graph's own) at a fixed batch
    size if one is given."""
    if convention.layout != "NCHW" or convention.channels != "RGB":
        raise ValueError(f"an ONNX input is NCHW RGB, not {convention.layout} {convention.channels}")
    model = onnx.ModelProto()
    model.CopyFrom(graph.model)
    g = model.graph
    name = graph.input_name
    if convention.scale != 1.0:
        inner = f"{name}/0..255"
        for node in g.node:
            node.input[:] = [inner if i == name else i for i in node.input]
        g.initializer.append(numpy_helper.from_array(np.array(1.0 / convention.scale, np.float32), f"{name}/scale"))
        g.node.insert(0, helper.make_node("Mul", [name, f"{name}/scale"], [inner]))
    if batch is not None:
        for value in (*g.input, *g.output):
            value.type.tensor_type.shape.dim[0].dim_value = batch
    return model


def float16(graph: ModelGraph) -> onnx.ModelProto:
    """The OnnxFloat16 flavor: float16 weights, input and output; float32 arithmetic between."""
    model = onnx.ModelProto()
    model.CopyFrom(graph.model)
    g = model.graph
    casts = []
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT:
            half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + "/float16")
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT))
            init.CopyFrom(half)
    name = graph.input_name
    inner = f"{name}/float32"
    for node in g.node:
        node.input[:] = [inner if i == name else i for i in node.input]
    casts.append(helper.make_node("Cast", [name], [inner], to=TensorProto.FLOAT))
    for out in g.output:
        produced = out.name + "/float32"
        for node in g.node:
            node.output[:] = [produced if o == out.name else o for o in node.output]
        g.node.append(helper.make_node("Cast", [produced], [out.name], to=TensorProto.FLOAT16))
        out.type.tensor_type.elem_type = TensorProto.FLOAT16
    g.input[0].type.tensor_type.elem_type = TensorProto.FLOAT16
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(model)
    return model
