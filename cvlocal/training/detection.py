"""Object detection iterations: the training job, and the held-out detections its performance is read from.

The model is model/detection's (pure ML, no I/O): this module hands it the training set's images with their
boxes, as the iteration's tags number them, within the iteration's reserved budget, and stores what comes back
as blobs: the detector (`Detector.to_bytes`) and, for every training image, the detections of a model that did
not train on it (`held_out_detections`), which get_iteration_performance and get_image_performances read at any
probability and overlap threshold without training again.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from ..model import detection
from ..model.detection import Box, Detection, DetectorBudgetExceeded, LabelledImage
from ..store import Store
from ..store.records import SnapshotEntry, TagRef, TrainedRegion, TrainingJob
from .features import Budget, BudgetExceeded

log = logging.getLogger("cvlocal.training")
HELD_OUT_FORMAT = "cvlocal.detections/1"


def truths(tags: tuple[TagRef, ...], snapshot: tuple[SnapshotEntry, ...],
           regions: Mapping[str, tuple[TrainedRegion, ...]]) -> list[tuple[Box, ...]]:
    """Each training image's labelled boxes (tag: its index among the iteration's tags), in the training set's
    order."""
    index = {tag_id: n for n, (tag_id, _) in enumerate(tags)}
    return [tuple(Box(index[tid], left, top, width, height) for _, tid, left, top, width, height in regions.get(sha, ())
                  if tid in index) for sha, _ in snapshot]


def train_detection(store: Store, job: TrainingJob) -> None:
    """Train a detector on the job's images and boxes, and record it with its held-out detections; raises with
    the reason to record when it cannot be trained."""
    started = time.perf_counter()
    iteration = job.iteration
    # The budget counts from the start of this job, not from the `train` call (the queue may hold it first).
    budget = Budget.reserved(iteration.reserved_budget_hours)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    images = [LabelledImage(store.blobs.get(sha), boxes)
              for (sha, _), boxes in zip(job.snapshot, truths(iteration.tags, job.snapshot, job.regions))]
    timings["read_s"] = time.perf_counter() - t0
    options = dict(time_left=budget.left if budget else None, timings=timings)
    try:
        if hasattr(detection, "train_with_held_out"):  # one pass that shares the work, where the model offers it
            detector, held_out = detection.train_with_held_out(images, len(iteration.tags), iteration.training_type,
                                                               **options)
        else:
            detector = detection.train_detector(images, len(iteration.tags), iteration.training_type, **options)
            held_out = detection.held_out_detections(images, len(iteration.tags), iteration.training_type,
                                                     **options)
    except DetectorBudgetExceeded as exc:
        raise BudgetExceeded(budget.message(f"the detector had not finished ({exc})") if budget else str(exc)) \
            from None
    model_digest = store.blobs.put(detector.to_bytes())
    heldout_digest = store.blobs.put(HeldOutDetections(held_out).to_bytes())
    seconds = time.perf_counter() - started
    timings["total_s"] = seconds
    store.finish_training(iteration.id, model_digest, heldout_digest, seconds, timings)
    log.info("trained %s (%s, object detection, %s) on %d images in %.2f s %s", iteration.name, iteration.id,
             iteration.training_type, len(images), seconds, {k: round(v, 3) for k, v in timings.items()})


@dataclass(frozen=True)
class HeldOutDetections:
    """Per training image (the training set's order), what a model that did not train on it detected."""
    detections: list[list[Detection]]

    def to_bytes(self) -> bytes:
        rows = [[[d.tag, d.probability, d.left, d.top, d.width, d.height] for d in found] for found in self.detections]
        return json.dumps({"format": HELD_OUT_FORMAT, "detections": rows}, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> "HeldOutDetections":
        stored = json.loads(data)
        if stored.get("format") != HELD_OUT_FORMAT:
            raise ValueError(f"not held-out detections: {stored.get('format')!r}")
        return cls([[Detection(int(tag), float(p), float(left), float(top), float(width), float(height))
                     for tag, p, left, top, width, height in found] for found in stored["detections"]])
