"""A trained detector as the service uses it: detect, region proposals, stored form, export.

Predictions run the detector's ONNX graph (graph.py) in onnxruntime, like classification's backbone: one
intra-op thread a run and no spinning, parallelism from concurrent requests. The image is decoded with its EXIF
orientation applied and squashed to the model's square input (model/preprocess.py), the way Azure's export
samples feed an export; boxes come back normalised to the submitted image.
"""
from __future__ import annotations

import threading

import numpy as np

from ..preprocess import SQUASH, decode_for_model
from .model import DetectionModel
from .nms import non_max_suppression
from .types import Detection


class Detector:
    def __init__(self, model: DetectionModel):
        self.model = model
        self._session = None
        self._lock = threading.Lock()

    @property
    def backbones(self) -> tuple[str, ...]:
        """The backbones a prediction runs (for the service's per-core compute gate)."""
        return self.model.backbones

    @property
    def tag_count(self) -> int:
        return self.model.tag_count

    @property
    def input_size(self) -> int:
        return self.model.size

    def session(self):
        """The onnxruntime session over the detector's graph, built on first use."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    import onnxruntime as ort

                    from .graph import detector_graph

                    opts = ort.SessionOptions()
                    opts.intra_op_num_threads = 1
                    opts.inter_op_num_threads = 1
                    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                    self._session = ort.InferenceSession(detector_graph(self.model).SerializeToString(), opts,
                                                         providers=["CPUExecutionProvider"])
        return self._session

    def pixels(self, data: bytes) -> np.ndarray:
        """Image bytes -> [S,S,3] uint8 RGB, the model's input; ValueError when undecodable."""
        return decode_for_model(data, self.model.size, self.model.size, SQUASH)

    def candidates(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[N,S,S,3] uint8 -> (boxes [N,A,4] x1y1x2y2, probabilities [N,A,K]), every anchor, before suppression."""
        x = np.asarray(pixels).transpose(0, 3, 1, 2).astype(np.float32)
        boxes, probabilities = self.session().run(["boxes", "probabilities"], {"data": x})
        return boxes, probabilities

    def detect(self, data: bytes) -> list[Detection]:
        """The objects in an image, after non-maximum suppression, most probable first, at most MAX_DETECTIONS;
        ValueError for bytes that are not a decodable image."""
        boxes, probabilities = self.candidates(self.pixels(data)[None])
        return _detections(boxes[0], probabilities[0])

    def region_proposals(self, data: bytes) -> list[tuple[float, float, float, float, float]]:
        """(confidence, left, top, width, height), tag-agnostic: every anchor's most probable tag's probability
        as its objectness, suppressed the same way."""
        boxes, probabilities = self.candidates(self.pixels(data)[None])
        kept, _, confidence = non_max_suppression(boxes[0], probabilities[0].max(axis=1, keepdims=True))
        b = np.clip(boxes[0][kept].astype(np.float64), 0.0, 1.0)
        return [(float(c), float(x1), float(y1), float(x2 - x1), float(y2 - y1))
                for c, (x1, y1, x2, y2) in zip(confidence, b)]

    def to_bytes(self) -> bytes:
        return self.model.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Detector":
        """ValueError when the bytes are not a stored detector."""
        return cls(DetectionModel.from_bytes(data))

    def onnx_export(self, tag_names: list[str], layout: str = "compact"):
        """The detector in Azure's object-detection ONNX layout (export.py): "compact" for the General (compact)
        domain, "compact-s1" for General (compact) [S1]."""
        from .export import export_model

        return export_model(self.model, tag_names, layout)


def _detections(boxes: np.ndarray, probabilities: np.ndarray) -> list[Detection]:
    kept, tags, probs = non_max_suppression(boxes, probabilities)
    b = np.clip(boxes[kept].astype(np.float64), 0.0, 1.0)
    return [Detection(int(t), float(p), float(x1), float(y1), float(x2 - x1), float(y2 - y1))
            for t, p, (x1, y1, x2, y2) in zip(tags, probs, b)]
