"""Export platforms: Azure's names, and the ones this service builds.

`AZURE_PLATFORMS` is every platform Custom Vision knows (a project's `targetExportPlatforms` may name any of
them); `EXPORTS` is what `export_iteration` accepts here, platform -> the flavors it takes (None: no flavor).
Domains advertise `EXPORTS` and nothing else (training/domains.py), so a client that checks a domain's
`exportablePlatforms` before exporting is never told about a platform the service then refuses.
"""
from __future__ import annotations

AZURE_PLATFORMS = ("CoreML", "TensorFlow", "DockerFile", "ONNX", "VAIDK", "OpenVino")

EXPORTS: dict[str, tuple[str | None, ...]] = {"ONNX": (None,), "DockerFile": (None, "Linux")}
