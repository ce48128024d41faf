"""The PostgreSQL store: metadata in a database that every replica shares, bytes in the blob store given."""
from __future__ import annotations

import logging
from collections.abc import Mapping

from ..blobs import BlobStore
from ..sql import SqlTables
from .claims import LeaseClaims
from .db import PostgresDatabase

log = logging.getLogger("cvlocal.training")


class PostgresStore(SqlTables):
    """cvlocal.store.interface.Store on a PostgreSQL database (`postgresql://...`) and a shared blob store."""

    def __init__(self, url: str, blobs: BlobStore, pool_size: int = 16):
        self.blobs = blobs
        self.db = PostgresDatabase(url, pool_size)
        self.claims = LeaseClaims(self.db)

    def _holds_training(self) -> tuple[str, tuple]:
        return self.claims.condition()

    def finish_training(self, iteration_id: str, model_digest: str, heldout_digest: str, seconds: float,
                        timings: Mapping[str, float]) -> bool:
        finished = super().finish_training(iteration_id, model_digest, heldout_digest, seconds, timings)
        if not finished:
            log.warning("training %s: this replica's lease ran out and another replica holds it now; this "
                        "result is left unused", iteration_id)
        return finished

    def ping(self) -> None:
        self.db.ping()
        self.blobs.ping()

    def close(self) -> None:
        self.db.close()
