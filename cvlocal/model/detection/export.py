"""A detector in Azure's object-detection ONNX export layouts, as Microsoft's samples read them.

Two layouts, one per compact detection domain, each followed from Azure-Samples/customvision-export-samples:

- ``compact`` (General (compact); samples/python/onnx/object_detection/predict.py): one input, ``data``
  float32 [1,3,S,S]; one output, ``model_outputs0`` [1, 5*(5+K), H, W], a YOLOv2-style grid the client decodes
  with the sample's five fixed anchors (ANCHORS, in cells): for each cell and anchor slot, x and y offsets added
  to the cell's column and row, log width and height relative to the anchor, an objectness logit (sigmoid) and
  K tag logits (softmax, times the objectness); then the client's own non-maximum suppression (IoU 0.45,
  probability > 0.01, at most 64). Every anchor of the detector is written into one slot, its box and tag
  probabilities encoded so that the sample's decoding gives them back: the tag logits are 0 for the most
  probable tag and far below for the others, the objectness the logit of that tag's probability. The sample's
  suppression is the service's (nms.py), so a client gets the service's boxes.
- ``compact-s1`` (General (compact) [S1]; samples/python/onnx/object_detection_s1/predict.py and
  samples/csharp/onnx/object_detection_s1/Main.cs): one input, ``image_tensor`` float32 [1,3,S,S]; three
  outputs, ``detected_boxes`` float32 [1,M,4] (x1, y1, x2, y2 normalised), ``detected_classes`` int64 [1,M]
  and ``detected_scores`` float32 [1,M], most probable first: the suppression runs inside the graph
  (NonMaxSuppression over each anchor's most probable tag, the same thresholds).

Both take RGB in 0..255 and say so in the ONNX image metadata props the samples read
(``Image.BitmapPixelFormat`` Rgb8, ``Image.NominalPixelRange`` NominalRange_0_255), with the labels in order
under ``labels``. S is the detector's input size; the samples read it from the model and squash the image to it
(`PIL.Image.open(f).resize(input_shape)`), as the service does.
"""
from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper

from ..efficientnet_lite import IR_VERSION, OPSET
from ..onnx_export import IMAGE_PROPS
from .graph import _Builder, build_detector_body
from .model import DetectionModel
from .types import MAX_DETECTIONS, MIN_PROBABILITY, NMS_IOU

# The sample's anchors (width, height in cells) for the compact layout: what its decoding multiplies by.
SAMPLE_ANCHORS = np.array([[0.573, 0.677], [1.87, 2.06], [3.34, 5.47], [7.88, 3.53], [9.77, 9.17]])
SLOTS = len(SAMPLE_ANCHORS)
LAYOUTS = {"compact": ("data", "model_outputs0"),
           "compact-s1": ("image_tensor", "detected_boxes")}
# Tag logits of the tags that are not the anchor's most probable: softmax gives them e^-60 (nothing).
_OTHER_TAG_LOGIT = 60.0
_PADDING = -30.0  # every field of an unused slot: objectness sigmoid(-30), never reported


def export_model(model: DetectionModel, tag_names: list[str], layout: str = "compact") -> onnx.ModelProto:
    """The detector as a self-contained ONNX model in `layout` (see the module docstring)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {sorted(LAYOUTS)}, not {layout!r}")
    if len(tag_names) != model.tag_count:
        raise ValueError(f"{len(tag_names)} tag names for a detector of {model.tag_count} tags")
    b = _Builder()
    input_name = LAYOUTS[layout][0]
    boxes, probabilities = build_detector_body(b, model, input_name)
    s, k = model.size, model.tag_count
    if layout == "compact":
        outputs = _compact(b, model, boxes, probabilities)
        about = (f"Output 'model_outputs0': float32 [1,{SLOTS * (5 + k)},H,W], YOLOv2-style, decoded with the "
                 f"anchors {SAMPLE_ANCHORS.tolist()} (cells) as Microsoft's ONNX object-detection sample does, "
                 "then non-maximum suppression (IoU 0.45, probability > 0.01, at most 64).")
    else:
        outputs = _suppressed(b, boxes, probabilities)
        about = ("Outputs 'detected_boxes' float32 [1,M,4] (x1, y1, x2, y2 normalised), 'detected_classes' int64 "
                 "[1,M], 'detected_scores' float32 [1,M], most probable first, after non-maximum suppression.")
    graph = helper.make_graph(b.nodes, f"cvlocal-detector-{layout}",
                              [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [1, 3, s, s])],
                              outputs, initializer=b.inits)
    exported = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="cvlocal",
                                 ir_version=IR_VERSION)
    exported.doc_string = (f"Object detector ({'+'.join(model.backbones)} feature maps, frozen, + linear anchor "
                           f"heads). Input '{input_name}': float32 [1,3,{s},{s}], RGB 0..255, the whole image "
                           f"resized to {s}x{s}. " + about + " Tags in the order of the metadata key 'labels'.")
    helper.set_model_props(exported, {**IMAGE_PROPS, "labels": json.dumps(list(tag_names)),
                                      "layout": layout, "backbone": "+".join(model.backbones)})
    onnx.checker.check_model(exported)
    return exported


def _compact(b: _Builder, model: DetectionModel, boxes: str, probabilities: str) -> list:
    """boxes [1,A,4] + probabilities [1,A,K] -> model_outputs0 [1, 5*(5+K), H, W]."""
    grid, per_cell, k = model.grid, len(model.shapes), model.tag_count
    columns = -(-per_cell // SLOTS)  # output columns per anchor cell: its shapes, five to a column
    height, width = grid, grid * columns
    # Anchor a = (cell row r, cell column c, shape s) sits at output row r, column c*columns + s//5, slot s%5:
    # in the order of the anchors, once the shapes are padded to a multiple of five.
    a = len(model.anchors)
    slots = height * width * SLOTS
    pad_per_cell = columns * SLOTS - per_cell
    index = np.arange(slots).reshape(grid * grid, columns * SLOTS)
    used = index[:, :per_cell].reshape(-1)  # where each anchor goes in the padded order
    row = np.repeat(np.arange(height), width * SLOTS).astype(np.float32)
    col = np.tile(np.repeat(np.arange(width), SLOTS), height).astype(np.float32)
    slot = np.tile(np.arange(SLOTS), height * width)

    def per_slot(values: np.ndarray) -> np.ndarray:
        return np.asarray(values, np.float32)[used].reshape(1, a, 1)

    x1, y1, x2, y2 = (b.node("Slice", [boxes, b.const(f"c{i}.s", np.array([i], np.int64)),
                                       b.const(f"c{i}.e", np.array([i + 1], np.int64)),
                                       b.const(f"c{i}.a", np.array([2], np.int64))], f"export.corner{i}")
                      for i in range(4))
    half = b.const("export.half", np.array(0.5, np.float32))
    tiny = b.const("export.tiny", np.array(1e-6, np.float32))
    w = b.node("Max", [b.node("Sub", [x2, x1], "export.w_raw"), tiny], "export.w")
    h = b.node("Max", [b.node("Sub", [y2, y1], "export.h_raw"), tiny], "export.h")
    cx = b.node("Mul", [b.node("Add", [x1, x2], "export.x_sum"), half], "export.cx")
    cy = b.node("Mul", [b.node("Add", [y1, y2], "export.y_sum"), half], "export.cy")
    fw, fh = b.const("export.width", np.array(width, np.float32)), b.const("export.height",
                                                                          np.array(height, np.float32))
    tx = b.node("Sub", [b.node("Mul", [cx, fw], "export.cx_cells"), b.const("export.col", per_slot(col))], "export.tx")
    ty = b.node("Sub", [b.node("Mul", [cy, fh], "export.cy_cells"), b.const("export.row", per_slot(row))], "export.ty")
    tw = b.node("Log", [b.node("Mul", [w, b.const("export.w_scale", per_slot(width / SAMPLE_ANCHORS[slot, 0]))],
                               "export.w_anchors")], "export.tw")
    th = b.node("Log", [b.node("Mul", [h, b.const("export.h_scale", per_slot(height / SAMPLE_ANCHORS[slot, 1]))],
                               "export.h_anchors")], "export.th")
    best = b.node("ReduceMax", [probabilities], "export.best", axes=[2], keepdims=1)
    p = b.node("Clip", [best, b.const("export.p_min", np.array(1e-7, np.float32)),
                        b.const("export.p_max", np.array(1 - 1e-7, np.float32))], "export.p")
    one = b.const("export.one", np.array(1.0, np.float32))
    objectness = b.node("Log", [b.node("Div", [p, b.node("Sub", [one, p], "export.not_p")], "export.odds")],
                        "export.objectness")
    logits = b.node("Mul", [b.node("Sub", [probabilities, best], "export.below_best"),
                            b.const("export.sharpen", np.array(1e6, np.float32))], "export.tag_gap")
    logits = b.node("Max", [logits, b.const("export.floor", np.array(-_OTHER_TAG_LOGIT, np.float32))],
                    "export.tag_logits")
    fields = b.node("Concat", [tx, ty, tw, th, objectness, logits], "export.fields", axis=2)  # [1, A, 5+K]
    # Pad every cell's shapes to a multiple of five: [1, cells, shapes, 5+K] -> [1, cells, columns*5, 5+K].
    fields = b.node("Reshape", [fields, b.const("export.by_cell", np.array([1, grid * grid, per_cell, 5 + k],
                                                                           np.int64))], "export.by_cell_fields")
    if pad_per_cell:
        fields = b.node("Pad", [fields, b.const("export.pads", np.array([0, 0, 0, 0, 0, 0, pad_per_cell, 0],
                                                                        np.int64)),
                                b.const("export.pad_value", np.array(_PADDING, np.float32))], "export.padded")
    fields = b.node("Reshape", [fields, b.const("export.grid", np.array([1, height, width, SLOTS, 5 + k],
                                                                        np.int64))], "export.grid_fields")
    fields = b.node("Transpose", [fields], "export.channels_first", perm=[0, 3, 4, 1, 2])
    b.node("Reshape", [fields, b.const("export.out_shape", np.array([1, SLOTS * (5 + k), height, width],
                                                                    np.int64))], "model_outputs0")
    assert slots >= a
    return [helper.make_tensor_value_info("model_outputs0", TensorProto.FLOAT, [1, SLOTS * (5 + k), height, width])]


def _suppressed(b: _Builder, boxes: str, probabilities: str) -> list:
    """boxes [1,A,4] + probabilities [1,A,K] -> detected_boxes, detected_classes, detected_scores."""
    best = b.node("ReduceMax", [probabilities], "s1.best", axes=[2], keepdims=0)  # [1, A]
    classes = b.node("ArgMax", [probabilities], "s1.classes", axis=2, keepdims=0)  # [1, A] int64
    scores = b.node("Unsqueeze", [best, b.const("s1.class_axis", np.array([1], np.int64))], "s1.scores")  # [1,1,A]
    selected = b.node("NonMaxSuppression", [boxes, scores, b.const("s1.max", np.array([MAX_DETECTIONS], np.int64)),
                                            b.const("s1.iou", np.array([NMS_IOU], np.float32)),
                                            b.const("s1.min", np.array([MIN_PROBABILITY], np.float32))],
                      "s1.selected")  # [M, 3]: batch, class, box
    which = b.node("Gather", [selected, b.const("s1.box_column", np.array(2, np.int64))], "s1.which", axis=1)
    kept_scores = b.node("Gather", [best, which], "s1.kept_scores", axis=1)  # [1, M]
    count = b.node("Shape", [which], "s1.count")
    b.nodes.append(helper.make_node("TopK", [kept_scores, count], ["s1.sorted_scores", "s1.order"], axis=1,
                                    name="s1.sort"))  # most probable first
    order = "s1.order"
    ranked = b.node("Gather", [which, b.node("Squeeze", [order, b.const("s1.batch_axis", np.array([0], np.int64))],
                                            "s1.order_flat")], "s1.ranked", axis=0)
    b.node("Gather", [boxes, ranked], "detected_boxes", axis=1)
    b.node("Gather", [classes, ranked], "detected_classes", axis=1)
    b.node("Gather", [best, ranked], "detected_scores", axis=1)
    return [helper.make_tensor_value_info("detected_boxes", TensorProto.FLOAT, [1, "M", 4]),
            helper.make_tensor_value_info("detected_classes", TensorProto.INT64, [1, "M"]),
            helper.make_tensor_value_info("detected_scores", TensorProto.FLOAT, [1, "M"])]
