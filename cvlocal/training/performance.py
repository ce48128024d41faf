"""An iteration's performance at any threshold, from the held-out evaluation its training stored."""
from __future__ import annotations

import threading

from .. import errors
from ..model.evaluation import HeldOut, performance
from ..store import Store
from ..store.records import IterationRecord


class Performance:
    def __init__(self, store: Store):
        self.store = store
        self._held_out: dict[str, HeldOut] = {}  # blob digest -> evaluation (immutable, so kept once read)
        self._lock = threading.Lock()

    def at(self, iteration: IterationRecord, threshold: float) -> dict:
        """Custom Vision's IterationPerformance (see model/evaluation.py for the definitions)."""
        return performance(self.held_out(iteration), threshold, list(iteration.tags))

    def held_out(self, iteration: IterationRecord) -> HeldOut:
        """The iteration's held-out evaluation: a row per image of its training set, in the set's order."""
        if iteration.status != "Completed" or not iteration.heldout_digest:
            raise errors.bad_request(f"{iteration.name} is {iteration.status}; performance exists once it has "
                                     "trained.", "BadRequestIterationIsNotTrained")
        held = self._held_out.get(iteration.heldout_digest)
        if held is None:
            held = HeldOut.from_bytes(self.store.blobs.get(iteration.heldout_digest))
            with self._lock:
                self._held_out[iteration.heldout_digest] = held
        return held
