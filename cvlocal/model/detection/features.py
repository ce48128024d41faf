"""Feature maps for detection: intermediate outputs of the frozen EfficientNet-Lite graphs at a detector's size.

The classifier reads the pooled 1280 channels at the end of a backbone; a detector needs to know *where*, so it
reads maps (Azure's export samples feed the whole image squashed to the model's square input, and so does the
service: model/preprocess.py's "squash"). The same graph as `model/efficientnet_lite.py` writes, built for the
detector's input size (the "SAME" paddings depend on it), with these taps as its outputs:

- ``s8``: the last stride-8 block's output (Lite0: 40 channels), and ``s8x``, that map expanded by the next
  block's 1x1 convolution and ReLU6 (Lite0: 240 channels): finer maps, smaller receptive fields;
- ``s16``: the last stride-16 block's output (Lite0: 112 channels);
- ``s16x``: that map expanded by the first stride-32 block's 1x1 convolution and ReLU6 (Lite0: 672
  channels), before it is strided: the richest stride-16 description the network computes;
- ``s32``: the head convolution's 1280 channels (ReLU6) at stride 32, what the classifier pools.

Maps come out as float32 NCHW; a detector's input is [N,3,S,S] RGB 0..255 like the classifier's.
"""
from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnx
from onnx import TensorProto, helper

from ..backbone import backbone_spec, thread_count, weights_path
from ..efficientnet_lite import build_lite_graph, scaled_stages
from ..torch_weights import load_state_dict

TAPS = ("s8", "s8x", "s16", "s16x", "s32")
STRIDES = {"s8": 8, "s8x": 8, "s16": 16, "s16x": 16, "s32": 32}


def tap_tensors(model: onnx.ModelProto, backbone: str) -> dict[str, str]:
    """The graph's tensor names of each tap (found by the block naming `efficientnet_lite` writes)."""
    spec = backbone_spec(backbone)
    ends = np.cumsum([s.repeats for s in scaled_stages(spec.width, spec.depth)])
    last8, first16 = int(ends[2]) - 1, int(ends[2])  # stage 3 ends at stride 8, stage 4 strides to 16
    last16, first32 = int(ends[4]) - 1, int(ends[4])  # stages 5 and 6: the last at stride 16, the first at 32
    outputs = [(n.op_type, n.output[0]) for n in model.graph.node]
    names = [o for _, o in outputs]

    def after(prefix: str) -> str:
        """The ReLU6 (Clip) right after the first node whose output starts with prefix."""
        i = next(k for k, o in enumerate(names) if o.startswith(prefix))
        if outputs[i + 1][0] != "Clip":
            raise ValueError(f"no ReLU6 after {names[i]} in {backbone}")
        return names[i + 1]

    def block_output(block: int) -> str:
        return [o for o in names if o.startswith((f"_blocks.{block}._project_conv", f"_blocks.{block}.add"))][-1]

    return {"s8": block_output(last8), "s8x": after(f"_blocks.{first16}._expand_conv"),
            "s16": block_output(last16), "s16x": after(f"_blocks.{first32}._expand_conv"),
            "s32": after("_conv_head")}


def channels(backbone: str, tap: str) -> int:
    spec = backbone_spec(backbone)
    stages = scaled_stages(spec.width, spec.depth)
    return {"s8": stages[2].channels, "s8x": stages[2].channels * stages[3].expand, "s16": stages[4].channels,
            "s16x": stages[4].channels * stages[5].expand, "s32": 1280}[tap]


@functools.lru_cache(maxsize=8)
def feature_map_graph_bytes(backbone: str, size: int, taps: tuple[str, ...]) -> bytes:
    """The backbone at `size` x `size` with `taps` as its outputs (in that order), serialised; built once."""
    return feature_map_graph(backbone, size, taps).SerializeToString()


def feature_map_graph(backbone: str, size: int, taps: tuple[str, ...]) -> onnx.ModelProto:
    """``image`` float32 [N,3,size,size] RGB 0..255 -> one float32 [N,C,size/stride,size/stride] output per tap,
    named as the tap; the nodes no tap needs (pooling, later blocks) are left out."""
    unknown = [t for t in taps if t not in TAPS]
    if unknown or not taps:
        raise ValueError(f"taps must be some of {TAPS}, not {taps}")
    if size % 32:
        raise ValueError(f"a detector's input size must be a multiple of 32, not {size}")
    spec = backbone_spec(backbone)
    model = build_lite_graph(load_state_dict(weights_path(backbone)), spec.name, spec.width, spec.depth, size)
    tensors = tap_tensors(model, backbone)
    graph = model.graph
    graph.node.extend(helper.make_node("Identity", [tensors[t]], [t]) for t in taps)
    del graph.output[:]
    graph.output.extend(helper.make_tensor_value_info(t, TensorProto.FLOAT, ["N", channels(backbone, t),
                                                                           size // STRIDES[t], size // STRIDES[t]])
                        for t in taps)
    _prune(graph)
    model.doc_string = (f"{backbone} ImageNet backbone's feature maps at {size}x{size}. Input 'image': float32 "
                        f"[N,3,{size},{size}] RGB 0..255. Outputs: {', '.join(taps)}.")
    return model


def _prune(graph: onnx.GraphProto) -> None:
    """Drop the nodes and initializers no output depends on."""
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(graph.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    keep.reverse()
    del graph.node[:]
    graph.node.extend(keep)
    inits = [i for i in graph.initializer if i.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(inits)


class FeatureMaps:
    """One onnxruntime session over a feature-map graph, run like `model.backbone.Backbone`: one intra-op
    thread a run, no spinning, sub-batches spread over the cores."""

    batch_size = 2

    def __init__(self, backbone: str, size: int, taps: tuple[str, ...], threads: int | None = None):
        import onnxruntime as ort

        self.backbone, self.size, self.taps = backbone, size, tuple(taps)
        self.threads = max(1, threads or thread_count())
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(feature_map_graph_bytes(backbone, size, self.taps), opts,
                                             providers=["CPUExecutionProvider"])

    def run(self, images_nhwc_uint8: np.ndarray) -> dict[str, np.ndarray]:
        """[N,S,S,3] uint8 RGB -> {tap: [N,C,h,w] float32}."""
        x = np.asarray(images_nhwc_uint8)
        if x.ndim != 4 or x.shape[1:] != (self.size, self.size, 3):
            raise ValueError(f"expected [N,{self.size},{self.size},3] images, got shape {x.shape}")
        n = len(x)
        out = {t: np.empty((n, channels(self.backbone, t), self.size // STRIDES[t], self.size // STRIDES[t]),
                           np.float32) for t in self.taps}
        starts = range(0, n, self.batch_size)

        def run(i: int) -> None:
            chunk = x[i:i + self.batch_size].transpose(0, 3, 1, 2).astype(np.float32)
            for t, y in zip(self.taps, self._session.run(list(self.taps), {"image": chunk})):
                out[t][i:i + len(chunk)] = y

        workers = min(self.threads, len(starts))
        if workers <= 1:
            for i in starts:
                run(i)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="cvlocal-detection") as pool:
                list(pool.map(run, starts))
        return out
