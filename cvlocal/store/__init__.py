"""The only owner of the service's data and its stored formats: metadata, blobs, the feature cache, exports.

Callers get records (records.py) through the Store interface (interface.py). `open_store` picks the backend:
SQLite in the data folder (the default; sqlite/) or a PostgreSQL database that replicas share (postgres/),
both running the same SQL (sql/); blobs in the data folder, another folder, or an Azure Blob Storage container
(azure_blobs.py).
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .blobs import BlobStore, FolderBlobStore
from .interface import Store, TrainingClaims
from .sql.db import utcnow
from .sql.schema import SchemaTooNew
from .sqlite import SqliteStore
from .sqlite.backup import DATABASE_FILE

DATABASE_USAGE = ("--database takes postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=require...] "
                  "(leave it out for SQLite in --data-dir)")


class StoreUnavailable(RuntimeError):
    """The database or the blobs cannot be reached or used; the message says which and why (no secrets)."""


def is_postgres(database: str | None) -> bool:
    return bool(database) and urlsplit(database).scheme in ("postgresql", "postgres")


def redacted(url: str) -> str:
    """The URL without its password, for banners and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def check_locations(database: str | None, blobs: str | None) -> None:
    """ValueError, saying what to fix, unless both are locations `open_store` takes (nothing is opened)."""
    if database and not is_postgres(database):
        raise ValueError(f"'{redacted(database)}': {DATABASE_USAGE}")
    if database:
        from .postgres.entra import auth_mode

        auth_mode()  # CVLOCAL_DATABASE_AUTH names a way to sign in that exists
    if blobs and "://" in blobs:
        from .azure_blobs import ContainerUrl

        ContainerUrl.parse(blobs).connection_string()


def open_blobs(data_dir: Path, blobs: str | None) -> BlobStore:
    if not blobs:
        return FolderBlobStore(data_dir / "blobs")
    if "://" not in blobs:
        return FolderBlobStore(Path(blobs))
    from azure.core.exceptions import AzureError

    from .azure_blobs import AzureBlobStore, ContainerUrl

    where = ContainerUrl.parse(blobs)
    try:
        return AzureBlobStore.from_url(blobs)
    except AzureError as exc:  # unreachable, refused, no permission
        raise StoreUnavailable(f"the blob container {where.account}/{where.container} cannot be used: "
                               f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from None


def open_store(data_dir: Path, database: str | None = None, blobs: str | None = None) -> Store:
    """ValueError: a location to fix; StoreUnavailable: an engine that does not answer; SchemaTooNew."""
    check_locations(database, blobs)
    blob_store = open_blobs(data_dir, blobs)
    if not database:
        return SqliteStore(data_dir, blob_store)
    import psycopg
    from azure.core.exceptions import ClientAuthenticationError

    from .postgres import PostgresStore
    try:
        return PostgresStore(database, blob_store)
    except (psycopg.Error, TimeoutError, ClientAuthenticationError) as exc:  # the last: no Entra token to sign in
        raise StoreUnavailable(f"PostgreSQL at {redacted(database)} cannot be used: "
                               f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc) else ''}"
                               ) from None


def open_existing_store(data_dir: Path, database: str | None = None, blobs: str | None = None) -> Store:
    """The store a service has made (for cvlocal backup and gc): the data directory's, or with `database` the
    cluster's; ValueError when the data directory holds none."""
    if database:
        return open_store(data_dir, database, blobs)
    if not (data_dir / DATABASE_FILE).is_file():
        raise ValueError(f"{data_dir} holds no cvlocal data ({DATABASE_FILE} is missing); name the --data-dir the "
                         "service serves.")
    return open_store(data_dir, None, blobs)


__all__ = ["Store", "TrainingClaims", "SqliteStore", "StoreUnavailable", "SchemaTooNew", "open_store",
           "open_existing_store", "utcnow", "is_postgres", "redacted", "check_locations"]
