"""The only owner of the service's data and its stored formats: metadata, blobs, the feature cache, exports.

Callers get records (records.py) through the Store interface (interface.py); `open_store` gives the one
backend there is today, SQLite plus a folder of blobs (sqlite/).
"""
from pathlib import Path

from .interface import Store
from .sqlite import SqliteStore
from .sqlite.db import utcnow
from .sqlite.maintenance import DATABASE_FILE


def open_store(data_dir: Path) -> Store:
    return SqliteStore(data_dir)


def open_existing_store(data_dir: Path) -> Store:
    """The store of a data directory a service has made (for cvlocal backup and gc); ValueError when there is none."""
    if not (data_dir / DATABASE_FILE).is_file():
        raise ValueError(f"{data_dir} holds no cvlocal data ({DATABASE_FILE} is missing); name the --data-dir the "
                         "service serves.")
    return SqliteStore(data_dir)


__all__ = ["Store", "SqliteStore", "open_existing_store", "open_store", "utcnow"]
