"""Training as claimed jobs, for replicas that share a database: each of `workers` threads claims the oldest
waiting training (store.claims), trains it (training/jobs.py, the same job as in one process) and ends it;
a heartbeat renews this replica's leases meanwhile.

Any replica may train an iteration any replica created: the one that answered the train call only wakes its
own workers at once, the others find the training within `poll_s`. A replica that dies mid-training loses
its lease after `lease_s` and another replica trains the iteration again; one that stops gracefully hands its
leases back at once. The result is written only by the lease's holder, in one statement, so an iteration
never ends half-written or twice.
"""
from __future__ import annotations

import logging
import random
import threading

from ..store import Store, TrainingClaims
from .features import FeatureCache
from .jobs import train_iteration

log = logging.getLogger("cvlocal.training")


class ClaimedTrainingQueue:
    def __init__(self, store: Store, claims: TrainingClaims, workers: int = 1, lease_s: float = 30.0,
                 poll_s: float = 2.0, start_delay_s: float = 0.0, features: FeatureCache | None = None):
        """`start_delay_s`: how long a claimed training waits, leased, before it trains (the fault `train-delay`)."""
        self.store, self.claims = store, claims
        self.features = features or FeatureCache(store)
        self.workers, self.lease_s, self.poll_s, self.start_delay_s = workers, lease_s, poll_s, start_delay_s
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._work, name=f"cvlocal-trainer-{n}", daemon=True)
                         for n in range(workers)]
        self._threads.append(threading.Thread(target=self._heartbeat, name="cvlocal-leases", daemon=True))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Graceful shutdown: claim nothing more and hand this replica's leases back to the others."""
        self._stopping.set()
        self._wake.set()
        try:
            released = self.claims.release_trainings()
        except Exception:  # the database is gone too: the leases run out on their own
            log.exception("could not hand the training leases back")
            return
        if released:
            log.info("handed %d training(s) back to the other replicas", released)

    def submit(self, iteration_id: str) -> None:
        self._wake.set()  # the training is in the database already; this replica's workers look at once

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                iteration_id = self.claims.claim_training(self.lease_s)
            except Exception:
                log.exception("could not claim a training; trying again")
                iteration_id = None
            if iteration_id is None:
                self._wake.wait(self.poll_s * random.uniform(0.5, 1.0))  # jitter: replicas do not poll in step
                self._wake.clear()
                continue
            self._train(iteration_id)

    def _train(self, iteration_id: str) -> None:
        if self.start_delay_s and self._stopping.wait(self.start_delay_s):
            return  # stopping: the lease was handed back
        try:
            train_iteration(self.store, self.features, iteration_id)
        except Exception as exc:  # the iteration must end Failed, never stay Training
            log.exception("training %s failed", iteration_id)
            try:
                self.store.fail_training(iteration_id, f"Training failed: {exc}")
            except Exception:  # the lease runs out and another replica tries
                log.exception("could not record the failure of %s", iteration_id)

    def _heartbeat(self) -> None:
        while not self._stopping.wait(self.lease_s / 3):
            try:
                self.claims.renew_trainings(self.lease_s)
            except Exception:  # a missed beat or two is what the lease's length allows for
                log.exception("could not renew the training leases")
