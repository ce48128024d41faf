"""The SQL of the store, written once for every engine: one module per table, the schema's migrations, and
`SqlTables`, the whole Store interface on any `Database` (db.py says what an engine provides)."""
from .tables import SqlTables

__all__ = ["SqlTables"]
