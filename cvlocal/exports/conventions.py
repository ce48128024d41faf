"""How each export platform's client feeds a model: what the exported input must take.

Each row is read off the code Microsoft publishes for that platform (Azure-Samples/customvision-export-samples
@ 54acd7e, and for TensorFlow.js the libraries its samples load, microsoft/customvision-tfjs 1.3.0 and
microsoft/customvision-tfjs-node 1.2.0): the client resizes the whole image to the input's size (the
TensorFlow.js libraries crop the centre square first) and hands it over in this layout, channel order and
range. An export that takes anything else gives confident wrong answers to those clients, so the writers
(exports/packages.py) build each input to its row, and docs/self-hosted.md shows the table.

The "General (compact) [S1]" domain's TensorFlow samples (`classification_s1/predict.py`) feed RGB where the
other compact domains' feed BGR; the rest do not depend on the domain.
"""
from __future__ import annotations

from dataclasses import dataclass

S1_DOMAIN = "a1db07ca-a19a-4830-bae8-e004a42dc863"  # General (compact) [S1], classification
SAMPLES = "Azure-Samples/customvision-export-samples"


@dataclass(frozen=True)
class Convention:
    layout: str        # NCHW | NHWC | image (CoreML: the runtime converts a picture itself)
    channels: str      # RGB | BGR
    scale: float       # 1.0: values 0..255; 1/255: values 0..1
    dtype: str         # float32 | float16
    crops: str         # what the client does before resizing: "none" | "centre square"
    source: str        # the client code this is read from

    @property
    def value_range(self) -> str:
        return "0..255" if self.scale == 1.0 else "0..1"


def convention(platform: str, flavor: str | None, domain_id: str) -> Convention:
    """The input the clients of this platform (and flavor) feed, for an iteration of this domain."""
    if platform in ("ONNX", "DockerFile"):  # DockerFile: its server feeds its ONNX model as the sample does
        dtype = "float16" if flavor == "OnnxFloat16" else "float32"
        return Convention("NCHW", "RGB", 1.0, dtype, "none",
                          f"{SAMPLES} samples/python/onnx/classification/predict.py (reads the metadata props)")
    if platform == "TensorFlow" and flavor == "TensorFlowJs":
        return Convention("NHWC", "BGR", 1.0, "float32", "centre square",
                          "microsoft/customvision-tfjs src/index.js ClassificationModel (BGR unless the model's "
                          "metadata says Rgb8) and customvision-tfjs-node (always BGR)")
    if platform == "TensorFlow":
        s1 = domain_id.lower() == S1_DOMAIN
        sample = {None: "tensorflow", "TensorFlowNormal": "tensorflow", "TensorFlowSavedModel":
                  "tensorflow_saved_model", "TensorFlowLite": "tensorflow_lite"}[flavor]
        return Convention("NHWC", "RGB" if s1 else "BGR", 1.0, "float32", "none",
                          f"{SAMPLES} samples/python/{sample}/classification{'_s1' if s1 else ''}/predict.py")
    if platform == "OpenVino":
        return Convention("NCHW", "RGB", 1 / 255, "float32", "none",
                          f"{SAMPLES} samples/python/openvino/classification/predict.py")
    if platform == "CoreML":
        return Convention("image", "RGB", 1.0, "float32", "none",
                          f"{SAMPLES} samples/python/coreml/classification/predict.py (a PIL image)")
    raise ValueError(f"no input convention for {platform} {flavor}")
