"""The only owner of the service's data and its stored formats: metadata, blobs, the feature cache, exports.

Callers get records (records.py) through the Store interface (interface.py); `open_store` gives the one
backend there is today, SQLite plus a folder of blobs (sqlite/).
"""
from pathlib import Path

from .interface import Store
from .sqlite import SqliteStore
from .sqlite.db import utcnow


def open_store(data_dir: Path) -> Store:
    return SqliteStore(data_dir)


__all__ = ["Store", "SqliteStore", "open_store", "utcnow"]
