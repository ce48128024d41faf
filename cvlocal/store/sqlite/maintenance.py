"""Operating the SQLite store: is it answering, which blobs do its rows name, and a consistent copy of it.

The copy is SQLite's online backup API: one step, under one read transaction, so it is the database as of
one moment while the service keeps writing (WAL: readers do not block the writer, nor the writer them).
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from .db import Database

DATABASE_FILE = "cvlocal.db"

# Every column that names a blob (tests/unit/test_store_maintenance.py checks that the schema has no other):
# images' bytes, stored predictions' images, trained heads and held-out evaluations, built exports (until
# their link expires), and the images a training still in progress is about to read.
REFERENCED_BLOBS = """
SELECT sha256 FROM images
UNION SELECT sha256 FROM predictions
UNION SELECT model_digest FROM iterations WHERE model_digest IS NOT NULL
UNION SELECT heldout_digest FROM iterations WHERE heldout_digest IS NOT NULL
UNION SELECT blob_digest FROM exports WHERE blob_digest IS NOT NULL AND expires > :now
UNION SELECT json_extract(s.value, '$[0]') FROM iterations, json_each(iterations.snapshot) AS s
      WHERE iterations.status = 'Training'
"""


def referenced_blobs_of(connection: sqlite3.Connection, now: float) -> set[str]:
    return {row[0] for row in connection.execute(REFERENCED_BLOBS, {"now": now})}


def _checked(connection: sqlite3.Connection, what: str) -> None:
    result = connection.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise ValueError(f"{what} is damaged (SQLite quick_check: {result}).")


class MaintenanceTables:
    db: Database

    def ping(self) -> None:
        self.db.query_one("SELECT count(*) FROM sqlite_master")

    def referenced_blobs(self, now: float | None = None) -> set[str]:
        with self.db.locked() as c:  # one statement: one snapshot across the tables
            return referenced_blobs_of(c, time.time() if now is None else now)

    def delete_expired_exports(self, now: float | None = None) -> int:
        """Exports whose download link has expired: their rows go (their blobs become garbage)."""
        with self.db.transaction() as c:
            return c.execute("DELETE FROM exports WHERE expires <= ?", (time.time() if now is None else now,)).rowcount

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
                return referenced_blobs_of(target, time.time())
        finally:
            copy.close()
