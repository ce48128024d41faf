"""The store on SQLite (WAL, synchronous=FULL; see db.py for durability): one module per table."""
from .store import SqliteStore

__all__ = ["SqliteStore"]
