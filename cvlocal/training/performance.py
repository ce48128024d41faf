"""An iteration's performance at any threshold, from the held-out evaluation its training stored.

Classification: the held-out probabilities of every training image (model/evaluation.py has the definitions).
Object detection: the held-out detections of every training image matched to its labelled regions at the
requested IoU overlap (model/detection's `detection_performance`): per tag precision, recall and average
precision, and the iteration's precision, recall and mean average precision (Azure's `averagePrecision`).
"""
from __future__ import annotations

import threading

from .. import errors
from ..model.detection import Box, detection_performance
from ..model.evaluation import HeldOut, performance
from ..store import Store
from ..store.records import IterationRecord
from .detection import HeldOutDetections, truths
from .domains import is_detection


class Performance:
    def __init__(self, store: Store):
        self.store = store
        # blob digest -> evaluation (immutable, so kept once read)
        self._held_out: dict[str, HeldOut | tuple[HeldOutDetections, list[tuple[Box, ...]]]] = {}
        self._lock = threading.Lock()

    def at(self, iteration: IterationRecord, threshold: float, overlap: float) -> dict:
        """Custom Vision's IterationPerformance; `overlap` (IoU) matters for object detection only."""
        if is_detection(iteration.domain_id):
            return self._detection_at(iteration, threshold, overlap)
        return performance(self.held_out(iteration), threshold, list(iteration.tags))

    def held_out(self, iteration: IterationRecord) -> HeldOut:
        """The iteration's held-out evaluation: a row per image of its training set, in the set's order."""
        return self._read(iteration, lambda data: HeldOut.from_bytes(data))

    def detections(self, iteration: IterationRecord) -> tuple[HeldOutDetections, list[tuple[Box, ...]]]:
        """An object detection iteration's held-out detections and labelled boxes, per image of its training
        set, in the set's order."""
        def read(data: bytes):
            _, _, snapshot = self.store.trained_on(iteration.project_id, iteration.id)
            found = HeldOutDetections.from_bytes(data)
            labelled = truths(iteration.tags, snapshot,
                              self.store.trained_regions(iteration.project_id, iteration.id))
            if len(found.detections) != len(labelled):
                raise errors.internal(f"The held-out results of {iteration.name} do not match its training set.")
            return found, labelled
        return self._read(iteration, read)

    def _detection_at(self, iteration: IterationRecord, threshold: float, overlap: float) -> dict:
        found, labelled = self.detections(iteration)
        result = detection_performance(found.detections, labelled, len(iteration.tags), threshold, overlap)
        per_tag = [{"id": tag_id, "name": name, "precision": float(t.precision),
                    "precisionStdDeviation": float(t.precision_std), "recall": float(t.recall),
                    "recallStdDeviation": float(t.recall_std), "averagePrecision": float(t.average_precision)}
                   for (tag_id, name), t in zip(iteration.tags, result.per_tag)]
        return {"perTagPerformance": per_tag, "precision": float(result.precision),
                "precisionStdDeviation": float(getattr(result, "precision_std", 0.0)),
                "recall": float(result.recall), "recallStdDeviation": float(getattr(result, "recall_std", 0.0)),
                "averagePrecision": float(result.mean_average_precision)}

    def _read(self, iteration: IterationRecord, decode):
        if iteration.status != "Completed" or not iteration.heldout_digest:
            raise errors.bad_request(f"{iteration.name} is {iteration.status}; performance exists once it has "
                                     "trained.", "BadRequestIterationIsNotTrained")
        held = self._held_out.get(iteration.heldout_digest)
        if held is None:
            held = decode(self.store.blobs.get(iteration.heldout_digest))
            with self._lock:
                self._held_out[iteration.heldout_digest] = held
        return held
