"""Exporting a trained iteration: what can be exported, and the package (an ONNX model zipped with its labels).

A training-side job: it turns a training result into an artefact, as Azure's export does (`Exporting` then
`Done`). It runs within the request today (a few seconds); it can become a queued job like training without
changing its callers.
"""
from __future__ import annotations

import io
import secrets
import zipfile

from .. import errors
from ..model.backbone import INPUT_SIZE
from ..model.efficientnet_lite import OPSET
from ..model.head import Head
from ..store import Store
from ..store.records import ExportRecord, IterationRecord
from .domains import get_domain

PLATFORM = "ONNX"  # the one platform this service builds; Azure's others are refused
README = """Exported by cvlocal (self-hosted Custom Vision).
model.onnx: input 'image', float32 [N, 3, {size}, {size}], RGB, values 0..255 (resize the short side to 256,
centre-crop {size}); output 'probabilities', float32 [N, K], in the order of labels.txt.
"""


def check_exportable(iteration: IterationRecord, platform: str, flavor: str | None) -> None:
    if platform != PLATFORM:
        raise errors.bad_request(f"Export to '{platform}' is not supported by this service; use platform=ONNX.",
                                 "BadRequestExportValidationFailed")
    if flavor:  # ONNX10 / ONNX12 ask for an older opset than the one model this service builds
        raise errors.bad_request(f"Export flavor '{flavor}' is not supported: this service exports one ONNX model "
                                 f"(opset {OPSET}, float32); leave flavor out.", "BadRequestExportValidationFailed")
    if not get_domain(iteration.domain_id).exportable:
        raise errors.bad_request(f"{iteration.name} was trained on a domain that cannot be exported; use a compact "
                                 "domain.", "BadRequestExportValidationFailed")


class Exporter:
    def __init__(self, store: Store, link_lifetime_s: float):
        self.store = store
        self.link_lifetime_s = link_lifetime_s

    def export(self, iteration: IterationRecord, platform: str, flavor: str | None) -> ExportRecord:
        """An ONNX model of backbone + head, zipped with its labels, behind an unguessable link."""
        from ..model.onnx_export import build_classifier_model  # onnx is imported only when exporting

        check_exportable(iteration, platform, flavor)
        head = Head.from_bytes(self.store.blobs.get(iteration.model_digest))
        names = [name for _, name in iteration.tags]
        model = build_classifier_model(head.weights, head.bias, "sigmoid" if head.multilabel else "softmax", names)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("model.onnx", model.SerializeToString())
            z.writestr("labels.txt", "\n".join(names) + "\n")
            z.writestr("README.txt", README.format(size=INPUT_SIZE))
        digest = self.store.blobs.put(buf.getvalue())
        return self.store.create_export(iteration.id, platform, flavor, secrets.token_urlsafe(32), digest,
                                        self.link_lifetime_s)
