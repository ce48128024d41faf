"""Export platforms and flavors: Azure's names, the ones this service builds, and what each needs installed.

`AZURE_PLATFORMS` is every platform Custom Vision knows (a project's `targetExportPlatforms` may name any of
them, SDK 3.1.1's `ExportPlatform`); `AZURE_FLAVORS` every flavor Azure documents, from SDK 3.1.1's
`ExportFlavor` and Microsoft's per-platform sample READMEs (Azure-Samples/customvision-export-samples,
`samples/*/*/README.md`). `EXPORTS` is what `export_iteration` builds here for a classification iteration, platform -> the flavors it
takes (None: no flavor), and `DETECTION_EXPORTS` the same for an object detection iteration (its detector's
graph is ONNX and DockerFile only so far). The service receives plain strings: both are matched in any letter case and answered in
Azure's spelling.

A platform built with a converter from the optional extra (`pip install 'cvops[exports]'`) is offered only
where that converter is installed (`available_exports`), and domains advertise exactly that
(training/domains.py), so a client that checks a domain's `exportablePlatforms` first is never refused.
"""
from __future__ import annotations

import functools
import importlib.util

AZURE_PLATFORMS = ("CoreML", "TensorFlow", "DockerFile", "ONNX", "VAIDK", "OpenVino")
AZURE_FLAVORS = {
    "ONNX": ("ONNX10", "ONNX12", "OnnxFloat16"),
    "TensorFlow": ("TensorFlowNormal", "TensorFlowSavedModel", "TensorFlowLite", "TensorFlowLiteFloat16",
                   "TensorFlowJs"),
    "CoreML": ("CoreMLFloat16",),
    "OpenVino": ("NoPostProcess",),
    "DockerFile": ("Linux", "Windows", "ARM"),
    "VAIDK": (),
}

EXPORTS: dict[str, tuple[str | None, ...]] = {
    "ONNX": (None, "OnnxFloat16"),
    # TensorFlowNormal is SDK 3.1.1's name for the frozen graph, the platform's default (flavor null)
    "TensorFlow": (None, "TensorFlowNormal", "TensorFlowSavedModel", "TensorFlowLite", "TensorFlowJs"),
    "OpenVino": (None,),
    "CoreML": (None,),
    "DockerFile": (None, "Linux", "ARM"),
}
# The Python module each platform's converter needs, from the `exports` extra (None: always installed).
CONVERTER = {"ONNX": None, "DockerFile": None, "TensorFlow": "tensorflow", "OpenVino": "openvino",
             "CoreML": "coremltools"}
EXTRA = "pip install 'cvops[exports]'"


@functools.cache
def installed(module: str | None) -> bool:
    """Whether a converter's module can be imported here (looked up, not imported: TensorFlow takes seconds)."""
    return module is None or importlib.util.find_spec(module) is not None


# An object detection iteration exports its detector (model/detection's graph) in Azure's object detection layout.
DETECTION_EXPORTS: dict[str, tuple[str | None, ...]] = {"ONNX": (None,), "DockerFile": (None, "Linux", "ARM")}


def exports_for(domain_type: str) -> dict[str, tuple[str | None, ...]]:
    """What `export_iteration` builds for an iteration on a domain of this type."""
    return DETECTION_EXPORTS if domain_type == "ObjectDetection" else EXPORTS


def available_exports(domain_type: str = "Classification") -> dict[str, tuple[str | None, ...]]:
    """`exports_for(domain_type)`, less the platforms whose converter is not installed."""
    return {p: flavors for p, flavors in exports_for(domain_type).items() if installed(CONVERTER[p])}


def azure_platform(name: str) -> str | None:
    """Azure's spelling of a platform name given in any case; None if Azure has no such platform."""
    return next((p for p in AZURE_PLATFORMS if p.lower() == (name or "").lower()), None)


def azure_flavor(platform: str, name: str | None) -> str | None:
    """Azure's spelling of one of the platform's flavors given in any case (None stays None).

    Raises ``LookupError`` when the platform has no flavor of that name (another platform's, or none's).
    """
    if not name:
        return None
    for flavor in AZURE_FLAVORS.get(platform, ()):
        if flavor.lower() == name.lower():
            return flavor
    raise LookupError(name)
