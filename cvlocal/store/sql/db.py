"""What the table modules need of a database engine, and the helpers they share.

The table modules (this folder) hold the SQL and the rules once, for every engine. They write SQLite's
dialect with `?` placeholders; an engine (store/sqlite/db.py, store/postgres/db.py) runs it and owns the few
differences that remain: how a write transaction begins and how it serialises writers of one project
(`lock_project`) or of the project list (`lock_projects`), how JSON columns are read in SQL (`json_*`), and
the schema's column types.
A row reads by column name and by position on every engine (`row["id"]`, `row[0]`).
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any, Protocol


class Row(Protocol):
    def __getitem__(self, key: str | int) -> Any: ...


class Result(Protocol):
    rowcount: int

    def fetchone(self) -> Row | None: ...
    def fetchall(self) -> list[Row]: ...


class Transaction(Protocol):
    """The connection inside `Database.transaction()`."""

    def execute(self, sql: str, params: Sequence = ()) -> Result: ...
    def executemany(self, sql: str, params: Iterator[Sequence] | list[Sequence]) -> Any: ...


class Database(Protocol):
    def transaction(self) -> AbstractContextManager[Transaction]:
        """Committed on success, rolled back on any error."""

    def migration(self) -> AbstractContextManager[Transaction]:
        """A transaction that only one process at a time holds, however many start together."""

    def query(self, sql: str, params: Sequence = ()) -> list[Row]: ...
    def query_one(self, sql: str, params: Sequence = ()) -> Row | None: ...

    def lock_project(self, c: Transaction, project_id: str) -> None:
        """Make the writers of one project's contents take turns until this transaction ends (checks that
        must see the state their write changes: names, the training in progress, image order)."""

    def lock_projects(self, c: Transaction) -> None:
        """Make the writers of the project list take turns until this transaction ends (the tier's count)."""

    def ddl(self, sql: str) -> str:
        """A migration's statements with SQLite's column types turned into this engine's."""

    def json_strings(self) -> str:
        """A subquery of the strings in the JSON array bound to its one `?`."""

    def json_elements(self, array: str, alias: str) -> str:
        """A FROM item: one row per element of the JSON array in the column `array`, the element as
        `alias.value`."""

    def json_text(self, value: str, key: str | int) -> str:
        """The text of field `key` (or item `key` of an array) of the JSON element `value`."""

    def json_number(self, value: str, key: str | int) -> str:
        """The same field as a number."""

    def ping(self) -> None: ...
    def close(self) -> None: ...


class JsonDialect:
    """`Database.json_*` from an engine's templates: how its SQL reads the JSON kept in TEXT columns."""

    JSON_STRINGS: str   # the strings of a JSON array bound to `?`, as a subquery
    JSON_ELEMENTS: str  # a FROM item of {array}'s elements, each as {alias}.value
    JSON_FIELD: str     # field {key} of element {value}, as text
    JSON_ITEM: str      # item {key} of array element {value}, as text
    JSON_NUMBER = "{}"  # such a text as a number

    @classmethod
    def json_strings(cls) -> str:
        return cls.JSON_STRINGS

    @classmethod
    def json_elements(cls, array: str, alias: str) -> str:
        return cls.JSON_ELEMENTS.format(array=array, alias=alias)

    @classmethod
    def json_text(cls, value: str, key: str | int) -> str:
        return (cls.JSON_ITEM if isinstance(key, int) else cls.JSON_FIELD).format(value=value, key=key)

    @classmethod
    def json_number(cls, value: str, key: str | int) -> str:
        return cls.JSON_NUMBER.format(cls.json_text(value, key))


def utcnow() -> str:
    """ISO-8601 with a 'T' and 'Z', as msrest parses it."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    return str(uuid.uuid4())


def marks(values) -> str:
    """`?,?,?` for an IN (...) list of these values."""
    return ",".join("?" * len(values))
