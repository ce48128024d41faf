"""EfficientNet-Lite (ImageNet) as an ONNX graph, written from a torch state dict with ``onnx.helper``.

The Lite family is EfficientNet without squeeze-excite and with ReLU6, whose stem (32 channels) and head
(1280 channels) stay fixed while the seven stages between them are scaled: channels by a width multiplier
(rounded to a multiple of 8), repeats by a depth multiplier (rounded up), except the first and the last
stage, which keep one block each. Lite0 is width 1.0 / depth 1.0 at 224 px, Lite2 width 1.1 / depth 1.2 at
260 px.

The stage table the graph is written from is read off the checkpoint's shapes (kernel, expansion and output
channels of every block; a stage starts where the channel count changes) and checked against the table the
scaling rules give, so a checkpoint of another variant is refused instead of turned into a wrong graph. Strides
are not in the weights: they are EfficientNet's, stage by stage.

In the graph: BatchNorm folded into the convolutions, TensorFlow "SAME" padding as fixed pads for the variant's
input size, input normalised as ``(x - 127) / 128`` (the original Lite preprocessing on RGB 0..255).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
IMAGENET_CLASSES = 1000
OPSET = 17
IR_VERSION = 8  # loadable by onnxruntime >= 1.10 and most other runtimes

_BN_EPS = 1e-3
_MEAN, _STD = 127.0, 128.0


@dataclass(frozen=True)
class Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    channels: int


# EfficientNet-B0's stages, which Lite0 keeps as they are.
BASE_STAGES = (
    Stage(1, 3, 1, 1, 16),
    Stage(2, 3, 2, 6, 24),
    Stage(2, 5, 2, 6, 40),
    Stage(3, 3, 2, 6, 80),
    Stage(3, 5, 1, 6, 112),
    Stage(4, 5, 2, 6, 192),
    Stage(1, 3, 1, 6, 320),
)


def _round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's ``round_filters``: the nearest multiple of 8, never more than 10% below."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


def scaled_stages(width: float, depth: float) -> tuple[Stage, ...]:
    """The stage table of the Lite variant with these multipliers."""
    last = len(BASE_STAGES) - 1
    return tuple(
        Stage(s.repeats if i in (0, last) else math.ceil(s.repeats * depth), s.kernel, s.stride, s.expand,
              _round_channels(s.channels, width))
        for i, s in enumerate(BASE_STAGES))


def stages_from_weights(state: dict[str, np.ndarray]) -> tuple[Stage, ...]:
    """The stage table the checkpoint's block shapes describe (strides from EfficientNet's stage order)."""
    blocks = []  # (in channels, kernel, expand, out channels) per block
    i = 0
    while f"_blocks.{i}._depthwise_conv.weight" in state:
        p = f"_blocks.{i}."
        depthwise = state[f"{p}_depthwise_conv.weight"].shape  # [in * expand, 1, k, k]
        out_ch = state[f"{p}_project_conv.weight"].shape[0]
        expand_w = state.get(f"{p}_expand_conv.weight")
        in_ch = depthwise[0] if expand_w is None else expand_w.shape[1]
        blocks.append((in_ch, depthwise[-1], depthwise[0] // in_ch, out_ch))
        i += 1
    stages: list[list] = []
    for in_ch, kernel, expand, out_ch in blocks:
        if not stages or in_ch != out_ch:  # a stage's first block changes the channel count
            stages.append([0, kernel, expand, out_ch])
        elif (kernel, expand) != tuple(stages[-1][1:3]):
            raise ValueError(f"block shapes change inside a stage (kernel {kernel}, expansion {expand})")
        stages[-1][0] += 1
    if len(stages) != len(BASE_STAGES):
        raise ValueError(f"the checkpoint has {len(stages)} stages, EfficientNet-Lite has {len(BASE_STAGES)}")
    return tuple(Stage(r, k, base.stride, e, c) for (r, k, e, c), base in zip(stages, BASE_STAGES))


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TensorFlow 'SAME': output ceil(size / stride), any odd padding goes at the end. -> (begin, end, out)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


class _GraphBuilder:
    def __init__(self, state: dict[str, np.ndarray]):
        self.state = state
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def conv_bn(self, x: str, prefix: str, conv: str, bn: str, size: int, stride: int = 1,
                groups: int = 1, relu6: bool = True) -> tuple[str, int]:
        """Conv (no bias) + BatchNorm folded into one Conv with bias, optional ReLU6. -> (output, new size)."""
        # Entries are taken out of the state dict as they are used, so the checkpoint's arrays are freed while
        # the graph's copies are made (the build's peak memory stays near one copy of the weights, not two).
        w = self.state.pop(f"{prefix}{conv}.weight").astype(np.float64)
        g, b, m, v = (self.state.pop(f"{prefix}{bn}.{k}").astype(np.float64)
                      for k in ("weight", "bias", "running_mean", "running_var"))
        scale = g / np.sqrt(v + _BN_EPS)
        w_name = self.const(f"{prefix}{conv}.w", (w * scale[:, None, None, None]).astype(np.float32))
        b_name = self.const(f"{prefix}{conv}.b", (b - m * scale).astype(np.float32))
        k = w.shape[-1]
        begin, end, out_size = same_pads(size, k, stride)
        y = self.name(f"{prefix}{conv}")
        self.nodes.append(helper.make_node(
            "Conv", [x, w_name, b_name], [y], kernel_shape=[k, k], strides=[stride, stride],
            pads=[begin, begin, end, end], group=groups))
        if relu6:
            y = self.relu6(y)
        return y, out_size

    def relu6(self, x: str) -> str:
        y = self.name("relu6")
        self.nodes.append(helper.make_node("Clip", [x, "zero", "six"], [y]))
        return y

    def blocks(self, x: str, size: int, stages: tuple[Stage, ...]) -> tuple[str, int]:
        in_ch, idx = STEM_CHANNELS, 0
        for stage in stages:
            for r in range(stage.repeats):
                s = stage.stride if r == 0 else 1
                p = f"_blocks.{idx}."
                y = x
                if stage.expand != 1:
                    y, _ = self.conv_bn(y, p, "_expand_conv", "_bn0", size)
                y, new_size = self.conv_bn(y, p, "_depthwise_conv", "_bn1", size, stride=s,
                                           groups=in_ch * stage.expand)
                y, _ = self.conv_bn(y, p, "_project_conv", "_bn2", new_size, relu6=False)
                if s == 1 and in_ch == stage.channels:  # identity skip (drop-connect is training-only)
                    z = self.name(f"{p}add")
                    self.nodes.append(helper.make_node("Add", [y, x], [z]))
                    y = z
                x, size, in_ch, idx = y, new_size, stage.channels, idx + 1
        return x, size


def build_lite_graph(state: dict[str, np.ndarray], name: str, width: float, depth: float, input_size: int,
                     thumbnail_block: int | None = None, include_imagenet_classifier: bool = False,
                     image_size: int | None = None) -> onnx.ModelProto:
    """``image`` float32 [N,3,S,S] RGB 0..255 -> ``features`` float32 [N,D]: the 1280 global-average-pooled
    head channels, then (with ``thumbnail_block``) the input averaged in blocks of that many pixels, in channel,
    row, column order; plus ``imagenet_logits`` [N,1000] from the channels when asked.

    S is ``input_size``, the network's resolution, unless ``image_size`` is given: then the graph takes
    [N,3,image_size,image_size] and resizes it to ``input_size`` first (ONNX Resize, linear, half-pixel).

    ``state`` is consumed (its arrays are moved into the graph). Raises ``ValueError`` when the checkpoint is
    not the Lite variant with these multipliers.
    """
    found, expected = stages_from_weights(state), scaled_stages(width, depth)
    if found != expected:
        raise ValueError(f"weights do not match {name}: stages {found}, expected {expected}")
    if state["_conv_stem.weight"].shape[0] != STEM_CHANNELS or state["_conv_head.weight"].shape[0] != HEAD_CHANNELS:
        raise ValueError(f"weights do not match {name}: stem or head width is not {STEM_CHANNELS}/{HEAD_CHANNELS}")
    fc = (state.pop("_fc.weight"), state.pop("_fc.bias")) if include_imagenet_classifier else None

    gb = _GraphBuilder(state)
    gb.const("zero", np.array(0.0, np.float32))
    gb.const("six", np.array(6.0, np.float32))
    gb.const("mean", np.array(_MEAN, np.float32))
    gb.const("inv_std", np.array(1.0 / _STD, np.float32))
    image = "image"
    if image_size and image_size != input_size:
        if thumbnail_block:
            raise ValueError("a resized input and a thumbnail do not go together")
        gb.const("network_hw", np.array([input_size, input_size], np.int64))
        gb.const("first", np.array([0], np.int64))
        gb.const("third", np.array([2], np.int64))
        gb.nodes += [helper.make_node("Shape", ["image"], ["image_shape"]),
                     helper.make_node("Slice", ["image_shape", "first", "third"], ["image_nc"]),
                     helper.make_node("Concat", ["image_nc", "network_hw"], ["network_shape"], axis=0),
                     helper.make_node("Resize", ["image", "", "", "network_shape"], ["resized"], mode="linear")]
        image = "resized"
    gb.nodes += [helper.make_node("Sub", [image, "mean"], ["centred"]),
                 helper.make_node("Mul", ["centred", "inv_std"], ["normalised"])]
    x, size = gb.conv_bn("normalised", "", "_conv_stem", "_bn0", input_size, stride=2)
    x, size = gb.blocks(x, size, found)
    x, _ = gb.conv_bn(x, "", "_conv_head", "_bn1", size)
    gb.nodes += [helper.make_node("GlobalAveragePool", [x], ["pooled"])]
    feature_dim = HEAD_CHANNELS
    if thumbnail_block:
        block = [thumbnail_block, thumbnail_block]
        gb.nodes += [helper.make_node("Flatten", ["pooled"], ["embedding"], axis=1),
                     helper.make_node("AveragePool", ["image"], ["thumbnail"], kernel_shape=block, strides=block),
                     helper.make_node("Flatten", ["thumbnail"], ["thumbnail_flat"], axis=1),
                     helper.make_node("Concat", ["embedding", "thumbnail_flat"], ["features"], axis=1)]
        feature_dim += 3 * (input_size // thumbnail_block) ** 2
        embedding = "embedding"
    else:
        gb.nodes.append(helper.make_node("Flatten", ["pooled"], ["features"], axis=1))
        embedding = "features"

    batch = "N"
    outputs = [helper.make_tensor_value_info("features", TensorProto.FLOAT, [batch, feature_dim])]
    if fc is not None:
        gb.const("imagenet_fc.w", fc[0].astype(np.float32))
        gb.const("imagenet_fc.b", fc[1].astype(np.float32))
        gb.nodes.append(helper.make_node("Gemm", [embedding, "imagenet_fc.w", "imagenet_fc.b"],
                                         ["imagenet_logits"], transB=1))
        outputs.append(helper.make_tensor_value_info("imagenet_logits", TensorProto.FLOAT,
                                                     [batch, IMAGENET_CLASSES]))

    side = image_size or input_size
    graph = helper.make_graph(
        gb.nodes, name, [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, side, side])],
        outputs, initializer=gb.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="cvlocal", ir_version=IR_VERSION)
    resized = f" (resized to {input_size}x{input_size} inside)" if side != input_size else ""
    model.doc_string = (f"{name} ImageNet backbone. Input 'image': float32 [N,3,{side},{side}] RGB 0..255"
                        f"{resized}. Output 'features': float32 [N,{feature_dim}].")
    return model
