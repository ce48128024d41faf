"""A detector as one ONNX graph: image in, every anchor's box and tag probabilities out.

``data`` float32 [N,3,S,S] RGB 0..255 (the whole image squashed to S x S) -> ``boxes`` float32 [N,A,4]
(x1, y1, x2, y2 normalised, clipped to [0, 1]) and ``probabilities`` float32 [N,A,K]. The service runs this
graph for every prediction and exports it wrapped in Azure's layouts (export.py), so the two cannot disagree;
training computes the same numbers in numpy (model.py), and a unit test holds them together.

The graph: each backbone's feature maps (features.py) with the backbone's own weights; per map input, sqrt,
one 1x1 convolution that applies the projection and every region's share of the two linear maps to each cell
(R x (K+5) maps), each region's mean of its own maps as two matrix products and a sum over regions (regions.py:
Pooling.pool_linear; the descriptors themselves are never formed); then the calibration's sigmoid and the box
decoding.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..efficientnet_lite import IR_VERSION, OPSET
from .features import feature_map_graph_bytes
from .head import MAX_LOG_RESIZE
from .model import DetectionModel
from .regions import REGIONS

INPUT_NAME = "data"


class _Builder:
    def __init__(self):
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def const(self, name: str, value) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def append_graph(self, graph_bytes: bytes, prefix: str, rename: dict[str, str]) -> None:
        """Another graph's nodes and initializers under `prefix`, its inputs renamed by `rename`."""
        graph = onnx.load_from_string(graph_bytes).graph
        names = {t.name: prefix + t.name for t in graph.initializer}
        names.update({o: prefix + o for n in graph.node for o in n.output})
        names.update(rename)
        for init in graph.initializer:
            copy = onnx.TensorProto()
            copy.CopyFrom(init)
            copy.name = names[init.name]
            self.inits.append(copy)
        for node in graph.node:
            copy = onnx.NodeProto()
            copy.CopyFrom(node)
            copy.input[:] = [names.get(x, x) if x else x for x in node.input]
            copy.output[:] = [names[x] for x in node.output]
            copy.name = prefix + (node.name or node.output[0])
            self.nodes.append(copy)


def build_detector_body(b: _Builder, model: DetectionModel, pixels: str) -> tuple[str, str]:
    """Append the detector reading `pixels` ([N,3,S,S] RGB 0..255) to `b`; -> (boxes, probabilities) names."""
    for backbone in model.backbones:
        b.append_graph(feature_map_graph_bytes(backbone, model.size, model.taps(backbone)), f"{backbone}/",
                       {"image": pixels})
    a, k = len(model.anchors), model.tag_count
    outs = k + 1 + 4  # class scores (background first), then box corrections
    weights, start, totals = model.output_weights(), 0, []
    for n, (i, p, pooling) in enumerate(zip(model.inputs, model.projections, model.descriptors.poolings)):
        q = f"input{n}."
        r, g, h = len(REGIONS), pooling.grid, pooling.height
        w = weights[start:start + r * i.components].reshape(r, i.components, outs)
        start += r * i.components
        # The projection and every region's output weights in one 1x1 convolution: [C] -> [R * outputs].
        folded = np.einsum("cp,rpo->cro", p.basis.astype(np.float64), w).reshape(len(p.mean), r * outs)
        offset = -(p.mean.astype(np.float64) @ folded)
        x = b.node("Sqrt", [f"{i.backbone}/{i.tap}"], q + "sqrt")
        x = b.node("Conv", [x, b.const(q + "region_weights", folded.T[:, :, None, None].astype(np.float32)),
                            b.const(q + "region_bias", offset.astype(np.float32))], q + "region_maps",
                   kernel_shape=[1, 1])
        rows, columns = pooling.region_major()
        x = b.node("Reshape", [x, b.const(q + "by_region", np.array([0, r, outs, h, pooling.width], np.int64))],
                   q + "by_region_maps")
        # Each region's means (regions.py: Pooling.pool_linear): columns, then rows, then the sum over regions.
        x = b.node("MatMul", [x, b.const(q + "columns", columns[:, None])], q + "by_column")  # [N,R,O,H,S*G]
        x = b.node("Reshape", [x, b.const(q + "split_sg", np.array([0, r, outs, h, pooling.shapes, g], np.int64))],
                   q + "by_shape")
        x = b.node("Transpose", [x], q + "rows_inner", perm=[0, 1, 4, 3, 2, 5])  # [N,R,S,H,O,G]
        x = b.node("Reshape", [x, b.const(q + "merge_og", np.array([0, r, pooling.shapes, h, outs * g], np.int64))],
                   q + "rows_ready")
        x = b.node("MatMul", [b.const(q + "rows", rows), x], q + "by_row")  # [N,R,S,G,O*G]
        totals.append(b.node("ReduceSum", [x, b.const(q + "region_axis", np.array([1], np.int64))], q + "total",
                             keepdims=0))
    x = totals[0]
    for n, t in enumerate(totals[1:]):
        x = b.node("Add", [x, t], f"inputs.sum{n}")
    g, shapes = model.grid, len(model.shapes)
    x = b.node("Reshape", [x, b.const("outputs.unpack", np.array([0, shapes, g, outs, g], np.int64))],
               "outputs.unpacked")
    x = b.node("Transpose", [x], "outputs.anchor_major", perm=[0, 2, 4, 1, 3])  # [N, Gr, Gc, S, O]
    x = b.node("Reshape", [x, b.const("outputs.shape", np.array([0, a, outs], np.int64))], "outputs.per_anchor")
    bias = np.hstack([model.class_bias, model.box_bias]).astype(np.float32)
    x = b.node("Add", [x, b.const("outputs.bias", bias)], "outputs")

    def columns_of(name: str, first: int, last: int) -> str:
        return b.node("Slice", [x, b.const(name + ".start", np.array([first], np.int64)),
                                b.const(name + ".end", np.array([last], np.int64)),
                                b.const(name + ".axis", np.array([2], np.int64))], name)

    s = columns_of("tag.scores", 1, k + 1)
    s = b.node("Mul", [s, b.const("calibration.slope", model.calibration.slope.astype(np.float32))], "tag.scaled")
    s = b.node("Add", [s, b.const("calibration.intercept", model.calibration.intercept.astype(np.float32))],
               "tag.logits")
    probabilities = b.node("Sigmoid", [s], "probabilities")
    c = columns_of("box.corrections", k + 1, k + 5)
    anchors = model.anchors
    aw, ah = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    acx, acy = (anchors[:, 0] + anchors[:, 2]) / 2, (anchors[:, 1] + anchors[:, 3]) / 2
    col = lambda v: np.asarray(v, np.float32).reshape(-1, 1)  # noqa: E731  per anchor, broadcast over N
    b.nodes.append(helper.make_node("Split", [c, b.const("box.split", np.array([1, 1, 1, 1], np.int64))],
                                    ["box.dx", "box.dy", "box.dw", "box.dh"], axis=2, name="box.split"))
    cx = b.node("Add", [b.node("Mul", ["box.dx", b.const("anchor.w", col(aw))], "box.dx_scaled"),
                        b.const("anchor.cx", col(acx))], "box.cx")
    cy = b.node("Add", [b.node("Mul", ["box.dy", b.const("anchor.h", col(ah))], "box.dy_scaled"),
                        b.const("anchor.cy", col(acy))], "box.cy")
    lo, hi = b.const("resize.min", np.array(-MAX_LOG_RESIZE, np.float32)), b.const("resize.max",
                                                                                 np.array(MAX_LOG_RESIZE, np.float32))
    half = b.const("half", np.array(0.5, np.float32))
    hw = b.node("Mul", [b.node("Mul", [b.node("Exp", [b.node("Clip", ["box.dw", lo, hi], "box.dw_c")], "box.rw"),
                                       "anchor.w"], "box.width"), half], "box.hw")
    hh = b.node("Mul", [b.node("Mul", [b.node("Exp", [b.node("Clip", ["box.dh", lo, hi], "box.dh_c")], "box.rh"),
                                       "anchor.h"], "box.height"), half], "box.hh")
    corners = b.node("Concat", [b.node("Sub", [cx, hw], "box.x1"), b.node("Sub", [cy, hh], "box.y1"),
                                b.node("Add", [cx, hw], "box.x2"), b.node("Add", [cy, hh], "box.y2")],
                     "box.corners", axis=2)
    boxes = b.node("Clip", [corners, b.const("zero", np.array(0.0, np.float32)),
                            b.const("one", np.array(1.0, np.float32))], "boxes")
    return boxes, probabilities


def detector_graph(model: DetectionModel) -> onnx.ModelProto:
    """The detector as it serves: ``data`` -> ``boxes``, ``probabilities`` (see the module docstring)."""
    b = _Builder()
    boxes, probabilities = build_detector_body(b, model, INPUT_NAME)
    a, k, s = len(model.anchors), model.tag_count, model.size
    graph = helper.make_graph(
        b.nodes, "cvlocal-detector",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 3, s, s])],
        [helper.make_tensor_value_info(boxes, TensorProto.FLOAT, ["N", a, 4]),
         helper.make_tensor_value_info(probabilities, TensorProto.FLOAT, ["N", a, k])], initializer=b.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="cvlocal",
                             ir_version=IR_VERSION)
