"""The CoreML platform: `model.mlmodel`, a Core ML neural-network classifier written with coremltools' MIL
builder from the ONNX graph, op by op (NCHW, as both lay tensors out).

Azure's Core ML exports are `.mlmodel` files (the neural-network format, iOS 11+; here iOS 13+, for the clip
and resize layers). Microsoft's sample (`samples/python/coreml/classification/predict.py`) reads the image
input's width and height from the spec, resizes a PIL image to them and passes the picture itself: Core ML
turns it into the network's input. The input here is `data`, an RGB image at the graph's size, scale 1 and
no bias (the graph takes 0..255 and normalises itself); the outputs are Core ML's classifier pair, `classLabel`
(the top tag) and `loss` (each tag's probability), the names Azure's classifiers used.

Core ML runs only on Apple's systems; coremltools writes the model anywhere. coremltools comes from the
optional extra and is imported only in the export worker's process.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .graph import CLASSIFICATION, ModelGraph
from .onnx_reading import GraphReader, UnsupportedGraph, attrs
from .tensorflow import MissingConverter

INPUT_NAME, PROBABILITIES, CLASS_LABEL = "data", "loss", "classLabel"
DEPLOYMENT_TARGET = "iOS13"


def import_coremltools():
    try:
        import coremltools
    except ImportError as exc:
        raise MissingConverter("CoreML exports need coremltools: pip install 'cvops[exports]'") from exc
    return coremltools


def mlmodel(graph: ModelGraph) -> bytes:
    """The `.mlmodel` file of a classification graph."""
    if graph.task != CLASSIFICATION:
        raise NotImplementedError(f"CoreML exports of {graph.task} models are not written yet")
    ct = import_coremltools()
    from coremltools.converters.mil import Builder as mb

    reader = GraphReader(graph.model)
    side = graph.input_size
    target = getattr(ct.target, DEPLOYMENT_TARGET)

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 3, side, side))], opset_version=target)
    def program(data):
        [out] = _translate(mb, reader, data)
        return mb.identity(x=out, name=PROBABILITIES)

    model = ct.convert(program, source="milinternal", convert_to="neuralnetwork",
                       inputs=[ct.ImageType(name=INPUT_NAME, shape=(1, 3, side, side),
                                            color_layout=ct.colorlayout.RGB, scale=1.0, bias=[0.0, 0.0, 0.0])],
                       classifier_config=ct.ClassifierConfig(list(graph.labels),
                                                             predicted_feature_name=CLASS_LABEL,
                                                             predicted_probabilities_output=PROBABILITIES),
                       minimum_deployment_target=target, pass_pipeline=ct.PassPipeline.EMPTY)
    model.short_description = "Image classifier exported by cvlocal (self-hosted Custom Vision)"
    with tempfile.TemporaryDirectory(prefix="cvlocal-coreml-") as folder:
        path = Path(folder) / "model.mlmodel"
        model.save(str(path))
        return path.read_bytes()


def _translate(mb, reader: GraphReader, image) -> list:
    values = {reader.input_name: image}

    def v(name):
        return values[reader.source(name)]

    for node in reader.nodes():
        op, a, ins = node.op_type, attrs(node), list(node.input)
        const = reader.consts.get
        if op == "Conv":
            pads = list(a.get("pads", [0, 0, 0, 0]))  # top, left, bottom, right -> top, bottom, left, right
            bias = const(ins[2]) if len(ins) > 2 else None
            y = mb.conv(x=v(ins[0]), weight=const(ins[1]), bias=bias, strides=list(a.get("strides", [1, 1])),
                        pad_type="custom", pad=[pads[0], pads[2], pads[1], pads[3]], groups=a.get("group", 1))
        elif op == "Clip":
            low, high = (float(const(i)) for i in ins[1:3])
            y = mb.clip(x=v(ins[0]), alpha=low, beta=high)
        elif op in ("Add", "Sub", "Mul", "Div"):
            x, z = (const(i) if i in reader.consts else v(i) for i in ins)
            y = {"Add": mb.add, "Sub": mb.sub, "Mul": mb.mul, "Div": mb.real_div}[op](x=x, y=z)
        elif op == "GlobalAveragePool":
            y = mb.reduce_mean(x=v(ins[0]), axes=[2, 3], keep_dims=True)
        elif op == "AveragePool":
            if any(a.get("pads", [0])):
                raise UnsupportedGraph("padded average pooling is not translated")
            y = mb.avg_pool(x=v(ins[0]), kernel_sizes=list(a["kernel_shape"]),
                            strides=list(a.get("strides", a["kernel_shape"])), pad_type="valid")
        elif op == "Flatten":
            shape = reader.shapes[ins[0]]
            y = mb.reshape(x=v(ins[0]), shape=[1, int(np.prod(shape[1:]))]) if len(shape) > 2 else v(ins[0])
        elif op == "Slice":
            y = _slice(mb, reader, node, v(ins[0]))
        elif op == "Concat":
            y = mb.concat(values=[v(i) for i in ins], axis=a["axis"])
        elif op == "Resize":
            if a.get("mode") != b"linear" or a.get("coordinate_transformation_mode", b"half_pixel") != b"half_pixel":
                raise UnsupportedGraph("Resize other than linear, half_pixel is not translated")
            h, w = (int(s) for s in reader.const(ins[3])[2:])
            h0, w0 = reader.shapes[ins[0]][2:]
            # Linear resampling is a matrix product along each axis: exact, and iOS 13's format has it (its
            # resize layers' half-pixel mode came in iOS 14).
            y = mb.matmul(x=v(ins[0]), y=linear_resize_matrix(w0, w).T)           # [N, C, H0, W]
            y = mb.transpose(x=y, perm=[0, 1, 3, 2])
            y = mb.matmul(x=y, y=linear_resize_matrix(h0, h).T)                   # [N, C, W, H]
            y = mb.transpose(x=y, perm=[0, 1, 3, 2])
        elif op == "MatMul":
            w = const(ins[1])
            y = mb.linear(x=v(ins[0]), weight=np.ascontiguousarray(w.T), bias=np.zeros(w.shape[1], np.float32))
        elif op == "Softmax":
            y = mb.softmax(x=v(ins[0]), axis=-1)
        elif op in ("Sigmoid", "Sqrt", "Relu"):
            y = {"Sigmoid": mb.sigmoid, "Sqrt": mb.sqrt, "Relu": mb.relu}[op](x=v(ins[0]))
        elif op == "Reshape":
            y = mb.reshape(x=v(ins[0]), shape=[int(s) for s in const(ins[1])])
        elif op == "ReduceMean":
            y = mb.reduce_mean(x=v(ins[0]), axes=list(a["axes"]), keep_dims=bool(a.get("keepdims", 1)))
        else:
            raise UnsupportedGraph(f"ONNX op {op} ({node.name or node.output[0]}) has no Core ML translation")
        values[node.output[0]] = y
    return [v(o) for o in reader.output_names]


def linear_resize_matrix(size_in: int, size_out: int) -> np.ndarray:
    """[size_out, size_in]: ONNX's Resize (linear, half_pixel) along one axis as a matrix."""
    m = np.zeros((size_out, size_in), np.float32)
    for i in range(size_out):
        x = min(max((i + 0.5) * size_in / size_out - 0.5, 0.0), size_in - 1)
        low = int(np.floor(x))
        high = min(low + 1, size_in - 1)
        m[i, low] += 1 - (x - low)
        m[i, high] += x - low
    return m


def _slice(mb, reader: GraphReader, node, x):
    args = [reader.consts[i] for i in node.input[1:] if i]
    rank = reader.rank(node.input[0])
    axes = [int(a) % rank for a in (args[2] if len(args) > 2 else range(len(args[0])))]
    steps = [int(s) for s in (args[3] if len(args) > 3 else [1] * len(axes))]
    begin, end = [0] * rank, [0] * rank
    begin_mask, end_mask, stride = [True] * rank, [True] * rank, [1] * rank
    for axis, s, e, step in zip(axes, args[0], args[1], steps):
        size = reader.shapes[node.input[0]][axis]
        if step == -1 and slice(int(s), int(e), -1).indices(size) == (size - 1, -1, -1):
            return mb.reverse(x=x, axes=[axis])
        if step != 1:
            raise UnsupportedGraph("strided slices are not translated")
        begin[axis], end[axis], _ = slice(int(s), int(e)).indices(size)
        begin_mask[axis] = end_mask[axis] = False
    return mb.slice_by_index(x=x, begin=begin, end=end, stride=stride, begin_mask=begin_mask, end_mask=end_mask)
