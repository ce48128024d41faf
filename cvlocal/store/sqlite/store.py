"""The SQLite store: one database file (metadata) plus a folder of blobs (bytes), in the data directory."""
from __future__ import annotations

from pathlib import Path

from ..blobs import FolderBlobStore
from .db import Database
from .exports import ExportTables
from .features import FeatureTables
from .images import ImageTables
from .iterations import IterationTables
from .maintenance import DATABASE_FILE, MaintenanceTables
from .predictions import PredictionTables
from .projects import ProjectTables
from .tags import TagTables


class SqliteStore(ProjectTables, TagTables, ImageTables, IterationTables, ExportTables, PredictionTables,
                  FeatureTables, MaintenanceTables):
    """cvlocal.store.interface.Store on `DATA_DIR/cvlocal.db` and `DATA_DIR/blobs/`."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.blobs = FolderBlobStore(data_dir / "blobs")
        self.db = Database(data_dir / DATABASE_FILE)

    def close(self) -> None:
        self.db.close()
