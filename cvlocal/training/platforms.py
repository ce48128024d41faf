"""Export platforms: Azure's names, and the ones this service builds.

`AZURE_PLATFORMS` is every platform Custom Vision knows (a project's `targetExportPlatforms` may name any of
them); `EXPORTS` is what `export_iteration` accepts here for a classification iteration, platform -> the
flavors it takes (None: no flavor), and `DETECTION_EXPORTS` the same for an object detection iteration.
Domains advertise `exports_for` their type and nothing else (training/domains.py), so a client that checks a
domain's `exportablePlatforms` before exporting is never told about a platform the service then refuses.
"""
from __future__ import annotations

AZURE_PLATFORMS = ("CoreML", "TensorFlow", "DockerFile", "ONNX", "VAIDK", "OpenVino")

EXPORTS: dict[str, tuple[str | None, ...]] = {"ONNX": (None,), "DockerFile": (None, "Linux")}

# An object detection iteration exports its detector (model/detection's graph) in Azure's object detection layout.
DETECTION_EXPORTS: dict[str, tuple[str | None, ...]] = {"ONNX": (None,), "DockerFile": (None, "Linux")}


def exports_for(domain_type: str) -> dict[str, tuple[str | None, ...]]:
    """What `export_iteration` accepts for an iteration on a domain of this type."""
    return DETECTION_EXPORTS if domain_type == "ObjectDetection" else EXPORTS
