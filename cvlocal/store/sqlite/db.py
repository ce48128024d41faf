"""The SQLite database: schema, one serialised connection, transactions.

The schema is the stored format of every data directory made so far: change it only with a migration.

WAL with synchronous=FULL: a transaction that has committed survives kill -9 and power loss. The service
answers a request only after its transaction commits, so everything acknowledged is on disk.
"""
from __future__ import annotations

import sqlite3
import threading
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    domain_id TEXT NOT NULL,
    classification_type TEXT NOT NULL,
    target_export_platforms TEXT NOT NULL DEFAULT '[]',
    iteration_counter INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS projects_by_name ON projects(name);

CREATE TABLE IF NOT EXISTS tags (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    type TEXT NOT NULL DEFAULT 'Regular',
    created TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS tags_by_name ON tags(project_id, name);

CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    size INTEGER NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    created TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS images_by_content ON images(project_id, sha256);
CREATE INDEX IF NOT EXISTS images_by_seq ON images(project_id, seq);

CREATE TABLE IF NOT EXISTS image_tags (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    tag_id TEXT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    created TEXT NOT NULL,
    PRIMARY KEY (image_id, tag_id)
);
CREATE INDEX IF NOT EXISTS image_tags_by_tag ON image_tags(tag_id);

CREATE TABLE IF NOT EXISTS iterations (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    trained_at TEXT,
    domain_id TEXT NOT NULL,
    classification_type TEXT NOT NULL,
    training_type TEXT NOT NULL,
    reserved_budget_hours INTEGER NOT NULL DEFAULT 0,
    training_seconds REAL,
    publish_name TEXT,
    publish_resource_id TEXT,
    error_details TEXT,
    fingerprint TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',      -- [[tag id, tag name], ...] in the model's output order
    snapshot TEXT NOT NULL DEFAULT '[]',  -- [[image sha256, [tag id, ...]], ...] the training set
    model_digest TEXT,                    -- blob: the trained head (npz)
    heldout_digest TEXT,                  -- blob: cross-validated predictions (npz)
    timings TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX IF NOT EXISTS iterations_by_publish_name
    ON iterations(project_id, publish_name) WHERE publish_name IS NOT NULL;

CREATE TABLE IF NOT EXISTS exports (
    id TEXT PRIMARY KEY,
    iteration_id TEXT NOT NULL REFERENCES iterations(id) ON DELETE CASCADE,
    platform TEXT NOT NULL,
    flavor TEXT,
    status TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,
    blob_digest TEXT,
    created TEXT NOT NULL,
    expires REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS features (
    sha256 TEXT NOT NULL,
    backbone TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (sha256, backbone)
);

CREATE TABLE IF NOT EXISTS predictions (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    iteration_id TEXT,
    application TEXT,
    sha256 TEXT NOT NULL,
    predictions TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS predictions_by_created ON predictions(project_id, created);
"""


def utcnow() -> str:
    """ISO-8601 with a 'T' and 'Z', as msrest parses it."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    return str(uuid.uuid4())


def marks(values) -> str:
    """`?,?,?` for an IN (...) list of these values."""
    return ",".join("?" * len(values))


class Database:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction at a time; committed on success, rolled back on any error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple | list = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
