"""A consistent copy of the SQLite store, and its restore: SQLite's online backup API, one step under one read
transaction, so it is the database as of one moment while the service keeps writing (WAL: readers do not
block the writer, nor the writer them)."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from ..sql.maintenance import referenced_blobs_params, referenced_blobs_sql
from ..sql.schema import migrate
from .db import SqliteDatabase

DATABASE_FILE = "cvlocal.db"


def referenced_blobs_of(connection: sqlite3.Connection, now: float) -> set[str]:
    return {row[0] for row in connection.execute(referenced_blobs_sql(SqliteDatabase), referenced_blobs_params(now))}


def _checked(connection: sqlite3.Connection, what: str) -> None:
    result = connection.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise ValueError(f"{what} is damaged (SQLite quick_check: {result}).")


class SqliteBackup:
    db: SqliteDatabase

    def backup_metadata(self, destination: Path) -> set[str]:
        """The database as of now into the folder `destination`; the blobs that copy names."""
        target = sqlite3.connect(destination / DATABASE_FILE)
        try:
            with self.db.locked() as source:
                source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            _checked(target, "The copy of the database")
            return referenced_blobs_of(target, time.time())
        finally:
            target.close()

    def restore_metadata(self, source: Path) -> set[str]:
        """This store's database replaced by the copy in the folder `source`; the blobs it names."""
        path = source / DATABASE_FILE
        if not path.is_file():
            raise ValueError(f"{source} holds no {DATABASE_FILE}: it is not a cvlocal backup.")
        copy = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            _checked(copy, f"The backup's database {path}")
            with self.db.locked() as target:
                copy.backup(target)
            migrate(self.db)  # a backup of an older release is brought up to this one, as opening its folder would
            with self.db.locked() as target:
                return referenced_blobs_of(target, time.time())
        finally:
            copy.close()
