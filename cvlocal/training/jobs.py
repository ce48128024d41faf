"""One training job: features (cached), the head, its cross-validated evaluation, both stored as blobs."""
from __future__ import annotations

import logging
import time

from ..model.evaluation import cross_validate
from ..model.head import fit_head
from ..store import Store
from .features import FeatureCache
from .rules import label_matrix

log = logging.getLogger("cvlocal.training")


def train_iteration(store: Store, features: FeatureCache, iteration_id: str) -> None:
    """Train the iteration if it still waits; raises with the reason to record when it cannot be trained."""
    job = store.training_job(iteration_id)
    if job is None:
        return  # deleted with its project meanwhile
    started = time.perf_counter()
    iteration, snapshot = job.iteration, job.snapshot
    multilabel = iteration.classification_type == "Multilabel"
    labels = label_matrix(iteration.tags, snapshot, multilabel)
    timings: dict[str, float] = {}
    vectors = features.features([sha for sha, _ in snapshot], timings)
    t0 = time.perf_counter()
    head = fit_head(vectors, labels, multilabel)
    held_out = cross_validate(vectors, labels, multilabel)
    timings["head_s"] = time.perf_counter() - t0
    model_digest = store.blobs.put(head.to_bytes())
    heldout_digest = store.blobs.put(held_out.to_bytes())
    seconds = time.perf_counter() - started
    timings["total_s"] = seconds
    store.finish_training(iteration_id, model_digest, heldout_digest, seconds, timings)
    log.info("trained %s (%s) on %d images in %.2f s %s", iteration.name, iteration_id, len(snapshot), seconds,
             {k: round(v, 3) for k, v in timings.items()})
