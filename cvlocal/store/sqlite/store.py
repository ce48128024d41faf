"""The SQLite store: one database file (metadata) plus a folder of blobs (bytes), in the data directory."""
from __future__ import annotations

from pathlib import Path

from ..blobs import BlobStore, FolderBlobStore
from ..sql import SqlTables
from .backup import DATABASE_FILE, SqliteBackup
from .db import SqliteDatabase


class SqliteStore(SqlTables, SqliteBackup):
    """cvlocal.store.interface.Store on `DATA_DIR/cvlocal.db` and, unless given other blobs, `DATA_DIR/blobs/`."""

    claims = None  # one process trains: the in-process queue (training/queue.py)

    def __init__(self, data_dir: Path, blobs: BlobStore | None = None):
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.blobs = blobs or FolderBlobStore(data_dir / "blobs")
        self.db = SqliteDatabase(data_dir / DATABASE_FILE)

    def close(self) -> None:
        self.db.close()
