"""The PostgreSQL store: metadata in a database that every replica shares, bytes in the blob store given."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from ..backup import BackupError
from ..blobs import BlobStore
from ..sql import SqlTables
from .claims import LeaseClaims
from .db import PostgresDatabase

log = logging.getLogger("cvlocal.training")
# cvlocal backup copies one data directory while it serves (SQLite's online backup); a cluster's metadata is
# a PostgreSQL database other replicas write, which PostgreSQL's own tools copy consistently, and its blobs are
# a container the storage account protects itself.
CLUSTER_BACKUP = ("cvlocal backup and restore copy a data directory (its SQLite database); a cluster keeps its "
                  "metadata in PostgreSQL: back it up with pg_dump (or the server's point-in-time recovery) and "
                  "the blob container with the storage account's soft delete, versioning or object replication "
                  "(docs/scale.md, Backups). Blobs are never rewritten, so a copy of the container taken after the "
                  "dump holds every blob the dump names, unless cvlocal gc ran between the two.")


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

    def backup_metadata(self, destination: Path) -> set[str]:
        raise BackupError(CLUSTER_BACKUP)

    def restore_metadata(self, source: Path) -> set[str]:
        raise BackupError(CLUSTER_BACKUP)

    def close(self) -> None:
        self.db.close()
