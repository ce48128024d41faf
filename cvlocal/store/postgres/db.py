"""The PostgreSQL engine: a connection pool, write transactions, the dialect, the schema migrated at open.

Read Committed, as PostgreSQL ships. What SQLite's one writer gives for free is made explicit: a write that
checks before it writes (a tag name, the training in progress, the listing order of images, a tier's quota)
first locks its project's row (`lock_project`), or the project list for a new project (`lock_projects`), so
those writers take turns across replicas; the unique indexes state the rules as constraints as well, and a write that breaks one is told Custom Vision's error for it
(schema.UNIQUE_RULES). Migrations run under a transaction-level advisory lock: replicas that start together
wait for the first, then find nothing left to apply.

With CVLOCAL_DATABASE_AUTH=entra each new connection's password is an Entra ID access token (entra.py).

Connections are autocommit: a read is one round trip; `transaction()` brackets its statements with BEGIN and
COMMIT. The table modules write `?` placeholders; `_sql` turns them into psycopg's `%s` (no statement of
theirs holds a literal `?` or `%`).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool

from ... import errors
from ..sql.db import JsonDialect
from ..sql.schema import UNIQUE_RULES, migrate
from .entra import token_password

# One number for every cvlocal: the advisory lock its migrations take (any 64-bit value names a lock).
MIGRATION_LOCK = 0x6376_6C6F_6361_6C01
PROJECTS_LOCK = 0x6376_6C6F_6361_6C02  # creating a project: the tier's count of projects sees every other
_TYPES = {"REAL": "DOUBLE PRECISION", "BLOB": "BYTEA"}  # SQLite's column types -> PostgreSQL's


@lru_cache(maxsize=1024)
def _sql(sql: str) -> str:
    return sql.replace("?", "%s")


class Row:
    """A row by column name and by position, as sqlite3.Row reads."""

    __slots__ = ("_values", "_names")

    def __init__(self, values: Sequence[Any], names: dict[str, int]):
        self._values, self._names = values, names

    def __getitem__(self, key: str | int) -> Any:
        return self._values[self._names[key] if isinstance(key, str) else key]

    def keys(self) -> list[str]:
        return list(self._names)


def _rows(cursor: psycopg.Cursor):
    names = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: Row(values, names)


class _Transaction:
    """The connection of a transaction, taking the table modules' `?` statements."""

    def __init__(self, conn: psycopg.Connection):
        self._conn = conn

    def execute(self, sql: str, params: Sequence = ()) -> psycopg.Cursor:
        return self._conn.execute(_sql(sql), params)

    def executemany(self, sql: str, params) -> psycopg.Cursor:
        cursor = self._conn.cursor()
        cursor.executemany(_sql(sql), list(params))
        return cursor


def _custom_vision_error(exc: pg_errors.UniqueViolation) -> errors.CustomVisionError | None:
    rule = UNIQUE_RULES.get(exc.diag.constraint_name or "")
    return errors.bad_request(rule[1], rule[0]) if rule else None


class PostgresDatabase(JsonDialect):
    JSON_STRINGS = "SELECT jsonb_array_elements_text(?::jsonb)"
    JSON_ELEMENTS = "jsonb_array_elements({array}::jsonb) AS {alias}(value)"
    JSON_FIELD = "({value} ->> '{key}')"
    JSON_ITEM = "({value} ->> {key})"
    JSON_NUMBER = "{}::float8"

    def __init__(self, url: str, pool_size: int = 16, connect_timeout_s: float = 30.0):
        password = token_password()  # Entra ID: a token each new connection (entra.py); else libpq's own

        def connection_settings() -> dict[str, Any]:
            return {"autocommit": True, "row_factory": _rows, **({"password": password()} if password else {})}

        first = connection_settings()
        psycopg.connect(url, connect_timeout=int(connect_timeout_s),  # a refusal says why, at once
                        **({"password": first["password"]} if password else {})).close()
        self.pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=False, name="cvlocal",
                                   kwargs=connection_settings, timeout=connect_timeout_s)
        self.pool.open(wait=True, timeout=connect_timeout_s)
        try:
            self.migrated = migrate(self)  # the versions this open applied (none, when another replica did)
        except BaseException:
            self.pool.close()
            raise

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        with self.pool.connection() as conn:
            try:
                with conn.transaction():
                    yield _Transaction(conn)
            except pg_errors.UniqueViolation as exc:
                error = _custom_vision_error(exc)
                if error is None:
                    raise
                raise error from exc

    @contextmanager
    def migration(self) -> Iterator[_Transaction]:
        with self.transaction() as c:
            c.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            yield c

    def query(self, sql: str, params: Sequence = ()) -> list[Row]:
        with self.pool.connection() as conn:
            return conn.execute(_sql(sql), params).fetchall()

    def query_one(self, sql: str, params: Sequence = ()) -> Row | None:
        with self.pool.connection() as conn:
            return conn.execute(_sql(sql), params).fetchone()

    def lock_project(self, c: _Transaction, project_id: str) -> None:
        if c.execute("SELECT 1 FROM projects WHERE id = ? FOR UPDATE", (project_id,)).fetchone() is None:
            raise errors.not_found_project(project_id)

    def lock_projects(self, c: _Transaction) -> None:
        c.execute("SELECT pg_advisory_xact_lock(?)", (PROJECTS_LOCK,))

    @staticmethod
    def ddl(sql: str) -> str:
        return re.sub(r"\b(REAL|BLOB)\b", lambda m: _TYPES[m.group(1)], sql)

    def ping(self) -> None:
        self.query_one("SELECT 1")

    def close(self) -> None:
        self.pool.close()
