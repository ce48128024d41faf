"""The store on SQLite (WAL, synchronous=FULL; see db.py for durability) and a folder of blobs."""
from .store import SqliteStore

__all__ = ["SqliteStore"]
