"""An object detection iteration's ONNX export: the detector's graph (model/detection's `onnx_export`, in Azure's
object detection layout), its labels and a README saying how to run it.

Azure-Samples/customvision-export-samples (samples/python/onnx/object_detection_s1/predict.py) reads the layout as
it is: one float32 NCHW input of the size the graph names, RGB, values as `Image.NominalPixelRange` says, and the
outputs `detected_boxes` ([1, N, 4]: left, top, right, bottom, normalised), `detected_classes` ([1, N], the line of
labels.txt) and `detected_scores` ([1, N]). The DockerFile export serves the same graph (training/container/).
"""
from __future__ import annotations

from ..model.detection import Detector

README = """Exported by cvlocal (self-hosted Custom Vision): an object detection iteration.
model.onnx: input '{input}', float32 {shape}, RGB ({pixels}); the whole image resized to the input's size.
Outputs: {outputs}. Boxes are normalised to the image; a class is the line of labels.txt (0-based).
Azure's export samples for object detection (Azure-Samples/customvision-export-samples,
samples/python/onnx/object_detection_s1/predict.py) run it as it is.
"""


def detection_onnx_package(detector_bytes: bytes, names: list[str]) -> tuple[bytes, str, str]:
    """(model.onnx bytes, labels.txt, README.txt) of a stored detector and its tag names."""
    model = Detector.from_bytes(detector_bytes).onnx_export(names)
    tensor = model.graph.input[0]
    shape = [d.dim_value or d.dim_param or "N" for d in tensor.type.tensor_type.shape.dim]
    meta = {p.key: p.value for p in model.metadata_props}
    pixels = "values 0..255" if meta.get("Image.NominalPixelRange") == "NominalRange_0_255" else "values 0..1"
    readme = README.format(input=tensor.name, shape=shape, pixels=pixels,
                           outputs=", ".join(f"'{o.name}'" for o in model.graph.output))
    return model.SerializeToString(), "\n".join(names) + "\n", readme
