"""An exported model's ONNX graph as TensorFlow operations, NHWC, for the TensorFlow family of exports.

The ONNX graph (exports/graph.py) is the one description of a model; this module reads it op by op and
writes the same computation with TensorFlow ops in the layout TensorFlow, TensorFlow Lite and TensorFlow.js
run on a CPU: every 4-D value is kept NHWC (ONNX's are NCHW), so axes, weights and flattening are mapped as
each op is translated. Translation has two steps:

- `plan` (NumPy only): the nodes the outputs need (exports/onnx_reading.py) and every weight already in
  TensorFlow's layout (convolutions HWIO, depthwise HWC1);
- `Plan.apply(x, weights)`: the ops, on an NHWC input, with each weight looked up by name, so one plan writes
  a frozen graph (weights as constants) and a SavedModel (weights as variables) alike.

Only the operations exported graphs use are translated; anything else is refused by name, so a graph the
translation does not understand is never exported wrong. A new kind of model (object detection) plugs in by
handing its ONNX graph here and, where it uses ops not listed in `_TRANSLATE`, adding them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import onnx

from ..model.efficientnet_lite import same_pads
from .onnx_reading import GraphReader, UnsupportedGraph, attrs

NCHW_TO_NHWC_AXIS = {0: 0, 1: 3, 2: 1, 3: 2}


@dataclass
class Step:
    op: str
    inputs: list[str]
    output: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """What `apply` runs: steps in order, the weights they read (TensorFlow layout), input and outputs."""
    input_name: str
    input_shape: tuple[int, int, int]  # H, W, C of the NHWC input
    outputs: list[str]
    steps: list[Step]
    weights: dict[str, np.ndarray]

    def apply(self, tf, x, weight: Callable[[str], Any]) -> list:
        """Run the steps on `x` (NHWC, the graph's own pixel convention); `weight(name)` gives a tensor."""
        values = {self.input_name: x}
        for step in self.steps:
            values[step.output] = _APPLY[step.op](tf, step, [values[i] for i in step.inputs], weight)
        return [values[o] for o in self.outputs]


def plan(model: onnx.ModelProto) -> Plan:
    """The translation of a one-input ONNX graph (NCHW image input) into steps over NHWC values."""
    planner = _Planner(GraphReader(model))
    for node in planner.nodes():
        if node.op_type not in _TRANSLATE:
            raise UnsupportedGraph(f"ONNX op {node.op_type} ({node.name or node.output[0]}) has no "
                                   "TensorFlow translation")
        planner.done[node.output[0]] = _TRANSLATE[node.op_type](planner, node)
    _, c, h, w = planner.shapes[planner.input_name]
    outputs = [planner.value(o) for o in planner.output_names]
    return Plan(planner.input_name, (h, w, c), outputs, planner.steps, planner.weights)


class _Planner:
    """The graph being read, and the steps and weights written so far."""

    def __init__(self, reader: GraphReader):
        self.reader = reader
        self.steps: list[Step] = []
        self.weights: dict[str, np.ndarray] = {}
        self.done: dict[str, str] = {reader.input_name: reader.input_name}

    def __getattr__(self, name):  # shapes, consts, producers, rank, const, nodes...: the reader's
        return getattr(self.reader, name)

    def value(self, name: str) -> str:
        """The name under which `apply` holds ONNX value `name` (already translated)."""
        return self.done[self.reader.source(name)]

    def weight(self, name: str, array: np.ndarray) -> str:
        self.weights[name] = np.ascontiguousarray(array, dtype=np.float32)
        return name

    def emit(self, op: str, inputs: list[str], output: str, **params) -> str:
        self.steps.append(Step(op, inputs, output, params))
        return output


# ---- planning: ONNX node -> steps -----------------------------------------------------------------------------

def _conv(p: _Planner, node) -> str:
    a = attrs(node)
    x = p.value(node.input[0])
    w = p.consts[node.input[1]]  # [O, I/groups, kH, kW]
    b = p.consts[node.input[2]] if len(node.input) > 2 else np.zeros(w.shape[0], np.float32)
    group = a.get("group", 1)
    stride = list(a.get("strides", [1, 1]))
    pads = list(a.get("pads", [0, 0, 0, 0]))  # top, left, bottom, right
    if list(a.get("dilations", [1, 1])) != [1, 1] or stride[0] != stride[1]:
        raise UnsupportedGraph("convolutions with dilation or unequal strides are not translated")
    h, wd = p.shapes[node.input[0]][2:]
    k = w.shape[2]
    same = [*same_pads(h, k, stride[0])[:2], *same_pads(wd, k, stride[1])[:2]]
    padding = "SAME" if [pads[0], pads[2], pads[1], pads[3]] == same else "VALID"
    explicit = None if padding == "SAME" or not any(pads) else [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]],
                                                                  [0, 0]]
    in_channels = p.shapes[node.input[0]][1]
    name = node.output[0]
    if group == 1:
        kernel = p.weight(f"{name}/kernel", w.transpose(2, 3, 1, 0))  # HWIO
        op = "conv"
    elif group == in_channels and w.shape[1] == 1:
        kernel = p.weight(f"{name}/kernel", w.transpose(2, 3, 0, 1))  # H, W, C, multiplier 1
        op = "depthwise"
    else:
        raise UnsupportedGraph(f"grouped convolution with {group} groups is not translated")
    bias = p.weight(f"{name}/bias", b)
    return p.emit(op, [x], name, kernel=kernel, bias=bias, stride=stride[0], padding=padding, explicit=explicit)


def _clip(p: _Planner, node) -> str:
    low, high = (float(p.consts[i]) if i else None for i in (list(node.input[1:]) + ["", ""])[:2])
    op = "relu6" if (low, high) == (0.0, 6.0) else "clip"
    return p.emit(op, [p.value(node.input[0])], node.output[0], low=low, high=high)


def _binary(p: _Planner, node) -> str:
    """Add, Sub, Mul, Div: a tensor with a tensor, or with a constant (laid out NHWC where it is 4-D)."""
    inputs, operands = [], []  # operands: ("value", index into inputs) or ("weight", name)
    for i in node.input:
        c = p.consts.get(i)
        if c is None:
            operands.append(("value", len(inputs)))
            inputs.append(p.value(i))
            continue
        if c.ndim >= 3:  # a per-channel constant shaped for NCHW broadcasting
            c = c.reshape((1,) * (4 - c.ndim) + c.shape).transpose(0, 2, 3, 1)
        operands.append(("weight", p.weight(f"{node.output[0]}/{i}", c)))
    return p.emit(node.op_type.lower(), inputs, node.output[0], operands=operands)


def _unary(p: _Planner, node) -> str:
    a = attrs(node)
    if node.op_type == "Softmax" and a.get("axis", -1) not in (-1, p.rank(node.input[0]) - 1):
        raise UnsupportedGraph("softmax over an axis other than the last is not translated")
    return p.emit(node.op_type.lower(), [p.value(node.input[0])], node.output[0])


def _global_average_pool(p: _Planner, node) -> str:
    return p.emit("mean_hw", [p.value(node.input[0])], node.output[0])


def _average_pool(p: _Planner, node) -> str:
    a = attrs(node)
    if any(a.get("pads", [0])) or a.get("ceil_mode", 0):
        raise UnsupportedGraph("padded average pooling is not translated")
    return p.emit("avg_pool", [p.value(node.input[0])], node.output[0], kernel=list(a["kernel_shape"]),
                  stride=list(a.get("strides", a["kernel_shape"])))


def _flatten(p: _Planner, node) -> str:
    if attrs(node).get("axis", 1) != 1:
        raise UnsupportedGraph("Flatten other than at axis 1 is not translated")
    shape = p.shapes[node.input[0]]
    x = p.value(node.input[0])
    if len(shape) == 2:
        return x
    size = int(np.prod(shape[1:]))
    # NHWC flattened in ONNX's order (C, H, W): a transpose first, unless there is one pixel
    return p.emit("flatten", [x], node.output[0], size=size, nchw=len(shape) == 4 and shape[2] * shape[3] > 1)


def _slice(p: _Planner, node) -> str:
    data, args = node.input[0], [p.consts[i] for i in node.input[1:] if i]
    starts, ends = args[0], args[1]
    rank = p.rank(data)
    axes = [int(a) % rank for a in (args[2] if len(args) > 2 else range(len(starts)))]
    steps = [int(s) for s in (args[3] if len(args) > 3 else [1] * len(starts))]
    begin, end, stride = [0] * rank, [0] * rank, [1] * rank
    begin_mask = end_mask = (1 << rank) - 1
    for axis, s, e, step in zip(axes, starts, ends, steps):
        tf_axis = NCHW_TO_NHWC_AXIS[axis] if rank == 4 else axis
        size = p.shapes[data][axis]
        s, e = int(s), int(e)
        if step == -1 and slice(s, e, -1).indices(size) == (size - 1, -1, -1):  # the whole axis reversed
            return p.emit("reverse", [p.value(data)], node.output[0], axis=tf_axis)
        if step != 1:
            raise UnsupportedGraph("strided slices are not translated")
        begin[tf_axis], end[tf_axis], _ = slice(s, e).indices(size)
        begin_mask &= ~(1 << tf_axis)
        end_mask &= ~(1 << tf_axis)
    return p.emit("slice", [p.value(data)], node.output[0], begin=begin, end=end, begin_mask=begin_mask,
                  end_mask=end_mask, stride=stride)


def _concat(p: _Planner, node) -> str:
    rank = p.rank(node.output[0])
    axis = attrs(node)["axis"] % rank
    return p.emit("concat", [p.value(i) for i in node.input], node.output[0],
                  axis=NCHW_TO_NHWC_AXIS[axis] if rank == 4 else axis)


def _resize(p: _Planner, node) -> str:
    a = attrs(node)
    mode = a.get("mode", b"nearest")
    transform = a.get("coordinate_transformation_mode", b"half_pixel")
    if mode != b"linear" or transform != b"half_pixel" or a.get("antialias", 0):
        raise UnsupportedGraph(f"Resize {mode!r}/{transform!r} is not translated (linear, half_pixel is)")
    sizes = p.const(node.input[3]) if len(node.input) > 3 else None
    if sizes is None:
        raise UnsupportedGraph("Resize without static sizes is not translated")
    return p.emit("resize_bilinear", [p.value(node.input[0])], node.output[0], size=[int(s) for s in sizes[2:]])


def _matmul(p: _Planner, node) -> str:
    w = p.consts.get(node.input[1])
    if w is None:
        raise UnsupportedGraph("MatMul of two computed tensors is not translated")
    return p.emit("matmul", [p.value(node.input[0])], node.output[0],
                  kernel=p.weight(f"{node.output[0]}/kernel", w))


def _reshape(p: _Planner, node) -> str:
    if p.rank(node.input[0]) == 4 or p.rank(node.output[0]) == 4:
        raise UnsupportedGraph("Reshape to or from 4-D is not translated")
    shape = [int(s) for s in p.consts[node.input[1]]]
    return p.emit("reshape", [p.value(node.input[0])], node.output[0], shape=shape)


def _reduce_mean(p: _Planner, node) -> str:
    a = attrs(node)
    axes = a.get("axes") or [int(i) for i in p.consts[node.input[1]]]
    if p.rank(node.input[0]) == 4:
        raise UnsupportedGraph("ReduceMean of a 4-D value is not translated (GlobalAveragePool is)")
    return p.emit("reduce_mean", [p.value(node.input[0])], node.output[0], axes=axes,
                  keepdims=bool(a.get("keepdims", 1)))


_TRANSLATE = {"Conv": _conv, "Clip": _clip, "Add": _binary, "Sub": _binary, "Mul": _binary, "Div": _binary,
              "Softmax": _unary, "Sigmoid": _unary, "Sqrt": _unary, "Relu": _unary,
              "GlobalAveragePool": _global_average_pool, "AveragePool": _average_pool, "Flatten": _flatten,
              "Slice": _slice, "Concat": _concat, "Resize": _resize, "MatMul": _matmul, "Reshape": _reshape,
              "ReduceMean": _reduce_mean}


# ---- applying: step -> TensorFlow ops --------------------------------------------------------------------------

def _apply_conv(tf, s, xs, w):
    x = xs[0]
    if s.params["explicit"]:
        x = tf.pad(x, s.params["explicit"])
    y = tf.nn.conv2d(x, w(s.params["kernel"]), s.params["stride"], s.params["padding"])
    return tf.nn.bias_add(y, w(s.params["bias"]))


def _apply_depthwise(tf, s, xs, w):
    x = xs[0]
    if s.params["explicit"]:
        x = tf.pad(x, s.params["explicit"])
    stride = s.params["stride"]
    y = tf.nn.depthwise_conv2d(x, w(s.params["kernel"]), [1, stride, stride, 1], s.params["padding"])
    return tf.nn.bias_add(y, w(s.params["bias"]))


def _apply_binary(op):
    def apply(tf, s, xs, w):
        a, b = (w(ref) if kind == "weight" else xs[ref] for kind, ref in s.params["operands"])
        return op(tf)(a, b)
    return apply


def _apply_clip(tf, s, xs, w):
    low, high = s.params["low"], s.params["high"]
    x = xs[0]
    if low is not None:
        x = tf.maximum(x, low)
    return tf.minimum(x, high) if high is not None else x


def _apply_flatten(tf, s, xs, w):
    x = tf.transpose(xs[0], [0, 3, 1, 2]) if s.params["nchw"] else xs[0]
    return tf.reshape(x, [-1, s.params["size"]])


def _apply_slice(tf, s, xs, w):
    return tf.strided_slice(xs[0], s.params["begin"], s.params["end"], s.params["stride"],
                            begin_mask=s.params["begin_mask"], end_mask=s.params["end_mask"])


_APPLY: dict[str, Callable] = {
    "conv": _apply_conv,
    "depthwise": _apply_depthwise,
    "relu6": lambda tf, s, xs, w: tf.nn.relu6(xs[0]),
    "clip": _apply_clip,
    "add": _apply_binary(lambda tf: tf.add),
    "sub": _apply_binary(lambda tf: tf.subtract),
    "mul": _apply_binary(lambda tf: tf.multiply),
    "div": _apply_binary(lambda tf: tf.divide),
    "softmax": lambda tf, s, xs, w: tf.nn.softmax(xs[0]),
    "sigmoid": lambda tf, s, xs, w: tf.sigmoid(xs[0]),
    "sqrt": lambda tf, s, xs, w: tf.sqrt(xs[0]),
    "relu": lambda tf, s, xs, w: tf.nn.relu(xs[0]),
    "mean_hw": lambda tf, s, xs, w: tf.reduce_mean(xs[0], axis=[1, 2], keepdims=True),
    "avg_pool": lambda tf, s, xs, w: tf.nn.avg_pool2d(xs[0], s.params["kernel"], s.params["stride"], "VALID"),
    "flatten": _apply_flatten,
    "slice": _apply_slice,
    "reverse": lambda tf, s, xs, w: tf.reverse(xs[0], [s.params["axis"]]),
    "concat": lambda tf, s, xs, w: tf.concat(xs, s.params["axis"]),
    "resize_bilinear": lambda tf, s, xs, w: tf.image.resize(xs[0], s.params["size"], method="bilinear"),
    "matmul": lambda tf, s, xs, w: tf.matmul(xs[0], w(s.params["kernel"])),
    "reshape": lambda tf, s, xs, w: tf.reshape(xs[0], s.params["shape"]),
    "reduce_mean": lambda tf, s, xs, w: tf.reduce_mean(xs[0], axis=s.params["axes"],
                                                      keepdims=s.params["keepdims"]),
}
