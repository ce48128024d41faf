"""The service's store: one SQLite database plus the blob folder, in the data directory."""
from __future__ import annotations

from pathlib import Path

from ..blobs import BlobStore
from .catalog import CatalogStore
from .db import Database
from .iterations import IterationStore


class Store(CatalogStore, IterationStore):
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.blobs = BlobStore(data_dir / "blobs")
        self.db = Database(data_dir / "cvlocal.db")

    def close(self) -> None:
        self.db.close()
