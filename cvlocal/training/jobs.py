"""One training job: the training type's features (cached), its head and the head's cross-validated
evaluation, both stored as blobs, within the iteration's reserved budget. An object detection iteration trains
a detector instead (training/detection.py)."""
from __future__ import annotations

import logging
import time

from ..model.backbone import thread_count
from ..model.training_types import training_type
from ..store import Store
from .detection import train_detection
from .domains import is_detection
from .features import Budget, FeatureCache
from .rules import label_matrix

log = logging.getLogger("cvlocal.training")


def train_iteration(store: Store, features: FeatureCache, iteration_id: str) -> None:
    """Train the iteration if it still waits; raises with the reason to record when it cannot be trained."""
    job = store.training_job(iteration_id)
    if job is None:
        return  # deleted with its project meanwhile
    if is_detection(job.iteration.domain_id):
        return train_detection(store, job)
    started = time.perf_counter()
    iteration, snapshot = job.iteration, job.snapshot
    kind = training_type(iteration.training_type, features.precision)  # the head records the backbones it reads
    # The budget counts from the start of this job, not from the `train` call (the queue may hold it first).
    budget = Budget.reserved(iteration.reserved_budget_hours)
    multilabel = iteration.classification_type == "Multilabel"
    labels = label_matrix(iteration.tags, snapshot, multilabel)
    timings: dict[str, float] = {}
    plain, mirrored = features.views([sha for sha, _ in snapshot], kind.backbones, kind.resize,
                                     kind.needs_mirrored, timings, budget)
    t0 = time.perf_counter()
    head = kind.fit(plain, labels, multilabel, mirrored, workers=thread_count())
    # The folds start from the head just fitted and run side by side, one a core. Solver evaluations on the 2,640
    # grocery photos (Regular): the fit 88; the five folds 456 from scratch, one after another; 244 from the head.
    held_out = kind.cross_validate(plain, labels, multilabel, mirrored, start=head, workers=thread_count())
    timings["head_s"] = time.perf_counter() - t0
    model_digest = store.blobs.put(head.to_bytes())
    heldout_digest = store.blobs.put(held_out.to_bytes())
    seconds = time.perf_counter() - started
    timings["total_s"] = seconds
    store.finish_training(iteration_id, model_digest, heldout_digest, seconds, timings)
    log.info("trained %s (%s, %s) on %d images in %.2f s %s", iteration.name, iteration_id, kind.name,
             len(snapshot), seconds, {k: round(v, 3) for k, v in timings.items()})
