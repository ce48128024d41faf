"""Metadata in SQLite (WAL), bytes in a content-addressed blob store. See store/db.py for durability."""
from .db import Database, utcnow
from .store import Store

__all__ = ["Database", "Store", "utcnow"]
