"""Training in the background: worker threads take iterations in the order they were asked for.

An iteration answers `Training` at once; a worker runs its job (training/jobs.py), which marks it
`Completed`, or `Failed` with the reason. The queue holds iteration ids only: the job itself (the training
set) is read from the store. Where replicas share the store, they hand the jobs out among themselves
instead (training/claimed.py); `training_queue` picks the one the store supports.
"""
from __future__ import annotations

import logging
import queue
import threading

from ..store import Store
from .feature_folder import FeatureFolder
from .features import FeatureCache
from .jobs import train_iteration

log = logging.getLogger("cvlocal.training")


def training_queue(store: Store, workers: int = 1, lease_s: float = 30.0, start_delay_s: float = 0.0,
                   shared_features: FeatureFolder | None = None, precision: str = "fp32"):
    """This process's queue where it alone trains; claimed jobs where the store hands trainings out.
    `shared_features`: a feature folder shared with other services (training/feature_folder.py); `precision`:
    the backbones new iterations train on (FeatureCache)."""
    features = FeatureCache(store, shared=shared_features, precision=precision)
    if store.claims is None:
        return TrainingQueue(store, start_delay_s, workers, features)
    from .claimed import ClaimedTrainingQueue

    return ClaimedTrainingQueue(store, store.claims, workers, lease_s, start_delay_s=start_delay_s,
                                features=features)


class TrainingQueue:
    def __init__(self, store: Store, start_delay_s: float = 0.0, workers: int = 1,
                 features: FeatureCache | None = None):
        """`start_delay_s`: how long a submitted iteration waits before it is queued (the fault `train-delay`,
        gateway/faults.py), so it stays `Training` at least that long."""
        self.store = store
        self.features = features or FeatureCache(store)
        self.start_delay_s = start_delay_s
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._threads = [threading.Thread(target=self._work, name=f"cvlocal-trainer-{n}", daemon=True)
                         for n in range(workers)]

    def start(self) -> None:
        failed = self.store.fail_interrupted()
        if failed:
            log.warning("marked %d iteration(s) interrupted by a restart as Failed", failed)
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)

    def submit(self, iteration_id: str) -> None:
        if self.start_delay_s:
            timer = threading.Timer(self.start_delay_s, self._queue.put, [iteration_id])
            timer.daemon = True
            timer.start()
        else:
            self._queue.put(iteration_id)

    def _work(self) -> None:
        while (iteration_id := self._queue.get()) is not None:
            try:
                train_iteration(self.store, self.features, iteration_id)
            except Exception as exc:  # the iteration must end Failed, never stay Training
                log.exception("training %s failed", iteration_id)
                self.store.fail_training(iteration_id, f"Training failed: {exc}")
