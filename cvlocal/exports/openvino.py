"""The OpenVino platform: OpenVINO IR (`model.xml` + `model.bin`) converted by OpenVINO from the ONNX graph.

The graph gets OpenVINO's clients' input in front (values 0..1, NCHW, RGB, batch 1: Microsoft's sample
`samples/python/openvino/classification/predict.py` divides by 255 and reads the size from the input's shape)
and OpenVINO's ONNX reader (`Core.read_model`) turns it into its own ops, saved float32 (`save_model`,
not compressed to float16). Input `data`, first output `model_outputs0`, as the ONNX export.

OpenVINO comes from the optional extra. Its Python package reports usage to Google Analytics when imported,
unless a person opted out; this service never reaches out: `import_openvino` hides its telemetry package
from the import, and OpenVINO then uses its own stand-in that sends nothing (openvino/tools/ovc/telemetry_utils.py).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import onnx

from .conventions import Convention
from .graph import ModelGraph
from .onnx_variants import with_input
from .tensorflow import MissingConverter


def import_openvino():
    sys.modules.setdefault("openvino_telemetry", None)  # None in sys.modules: "import" raises ImportError
    try:
        import openvino
    except ImportError as exc:
        raise MissingConverter("OpenVino exports need OpenVINO: pip install 'cvops[exports]'") from exc
    return openvino


def openvino_ir(graph: ModelGraph, convention: Convention) -> dict[str, bytes]:
    """{"model.xml": ..., "model.bin": ...}"""
    ov = import_openvino()
    with tempfile.TemporaryDirectory(prefix="cvlocal-openvino-") as folder:
        source = Path(folder) / "model.onnx"
        onnx.save(with_input(graph, convention, batch=1), source)
        model = ov.Core().read_model(str(source))
        ov.save_model(model, str(Path(folder) / "model.xml"), compress_to_fp16=False)
        return {name: (Path(folder) / name).read_bytes() for name in ("model.xml", "model.bin")}
