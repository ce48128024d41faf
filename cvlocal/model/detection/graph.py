"""A detector as one ONNX graph: image in, every anchor's box and tag probabilities out.

``data`` float32 [N,3,S,S] RGB 0..255 (the whole image squashed to S x S) -> ``boxes`` float32 [N,A,4]
(x1, y1, x2, y2 normalised, clipped to [0, 1]) and ``probabilities`` float32 [N,A,K]. The service runs this
graph for every prediction and exports it wrapped in Azure's layouts (export.py), so the two cannot disagree;
training computes the same numbers in numpy (model.py), and a unit test holds them together.

The graph: each backbone's feature maps (features.py) with the backbone's own weights; per map input, sqrt,
the projection as a 1x1 convolution, the region means as two matrix products (regions.py: Pooling), the
descriptors; then the two linear maps, the calibration's sigmoid and the box decoding.
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
    a = len(model.anchors)
    parts = []
    for n, (i, p, pooling) in enumerate(zip(model.inputs, model.projections, model.descriptors.poolings)):
        q = f"input{n}."
        comps = p.basis.shape[1]
        x = b.node("Sqrt", [f"{i.backbone}/{i.tap}"], q + "sqrt")
        x = b.node("Conv", [x, b.const(q + "projection.w", p.basis.T[:, :, None, None].astype(np.float32)),
                            b.const(q + "projection.b", (-p.mean @ p.basis).astype(np.float32))],
                   q + "projected", kernel_shape=[1, 1])
        g, sr, h, w = pooling.grid, pooling.rows.shape[0], pooling.height, pooling.width
        # [N,P,H,W] @ columns' [W, Q*G] -> [N,P,H,Q,G] -> [N,Q,H,P*G]; rows [Q,G,H] @ that -> [N,Q,G,P*G]
        x = b.node("MatMul", [x, b.const(q + "columns", pooling.columns.reshape(-1, w).T.copy())], q + "by_column")
        x = b.node("Reshape", [x, b.const(q + "split_q", np.array([0, comps, h, sr, g], np.int64))], q + "by_q")
        x = b.node("Transpose", [x], q + "q_first", perm=[0, 3, 2, 1, 4])
        x = b.node("Reshape", [x, b.const(q + "merge_pg", np.array([0, sr, h, comps * g], np.int64))], q + "q_rows")
        x = b.node("MatMul", [b.const(q + "rows", pooling.rows), x], q + "means")
        # [N, S, R, Gr, P, Gc] -> [N, Gr, Gc, S, R, P] -> [N, A, R*P]: anchors in order, regions, components
        x = b.node("Reshape", [x, b.const(q + "unpack", np.array([0, pooling.shapes, len(REGIONS), g, comps, g],
                                                                 np.int64))], q + "means_unpacked")
        x = b.node("Transpose", [x], q + "anchor_major", perm=[0, 3, 5, 1, 2, 4])
        parts.append(b.node("Reshape", [x, b.const(q + "descriptor_shape",
                                                   np.array([0, a, len(REGIONS) * comps], np.int64))],
                            q + "descriptor"))
    d = parts[0] if len(parts) == 1 else b.node("Concat", parts, "descriptors", axis=2)

    s = b.node("MatMul", [d, b.const("class.w", model.class_weights.astype(np.float32))], "class.matmul")
    s = b.node("Add", [s, b.const("class.b", model.class_bias.astype(np.float32))], "class.scores")
    k = model.tag_count
    s = b.node("Slice", [s, b.const("tags.start", np.array([1], np.int64)),
                         b.const("tags.end", np.array([k + 1], np.int64)),
                         b.const("tags.axis", np.array([2], np.int64))], "tag.scores")
    s = b.node("Mul", [s, b.const("calibration.slope", model.calibration.slope.astype(np.float32))], "tag.scaled")
    s = b.node("Add", [s, b.const("calibration.intercept", model.calibration.intercept.astype(np.float32))],
               "tag.logits")
    probabilities = b.node("Sigmoid", [s], "probabilities")

    c = b.node("MatMul", [d, b.const("box.w", model.box_weights.astype(np.float32))], "box.matmul")
    c = b.node("Add", [c, b.const("box.b", model.box_bias.astype(np.float32))], "box.corrections")
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
