"""The SQLite engine: one serialised connection, write transactions, the schema migrated at open.

WAL with synchronous=FULL: a transaction that has committed survives kill -9 and power loss. The service
answers a request only after its transaction commits, so everything acknowledged is on disk. Every write
transaction begins IMMEDIATE, so writers take turns across processes too: `lock_project` and
`lock_projects` have nothing to add.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..sql.db import JsonDialect
from ..sql.schema import migrate


BUSY_AT_OPEN_S = 30  # as long as a write waits for another process's (connect's timeout)


def _write_ahead_log(conn: sqlite3.Connection, within_s: float = BUSY_AT_OPEN_S) -> None:
    """Switch the database to WAL. Processes opening a new database together can find it locked: the switch
    needs the database to itself, and SQLite answers "locked" at once there instead of waiting (waiting could
    deadlock), so the switch is tried again until `within_s` has passed."""
    deadline, pause = time.monotonic() + within_s, 0.01
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


class SqliteDatabase(JsonDialect):
    JSON_STRINGS = "SELECT value FROM json_each(?)"
    JSON_ELEMENTS = "json_each({array}) AS {alias}"
    JSON_FIELD = "json_extract({value}, '$.{key}')"  # a JSON number comes out a number
    JSON_ITEM = "json_extract({value}, '$[{key}]')"

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        _write_ahead_log(self._conn)
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self.migrated = migrate(self)  # the versions this open applied

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

    # An immediate transaction holds the database's write lock: a second process migrating waits for it.
    migration = transaction

    @contextmanager
    def locked(self) -> Iterator[sqlite3.Connection]:
        """The connection itself, for what is neither a query nor a write transaction (backups)."""
        with self._lock:
            yield self._conn

    def query(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple | list = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def lock_project(self, c: sqlite3.Connection, project_id: str) -> None:
        pass  # BEGIN IMMEDIATE serialises every writer already

    def lock_projects(self, c: sqlite3.Connection) -> None:
        pass  # the same

    @staticmethod
    def ddl(sql: str) -> str:
        return sql

    def ping(self) -> None:
        self.query_one("SELECT 1")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
