"""A backup of a data directory taken while the service serves, and its restore into an empty one.

A backup is a folder: `manifest.json`, the metadata as of one moment (the store's `backup_metadata`: for
SQLite, `cvlocal.db` made with SQLite's online backup API), the blobs that copy names (`blobs/`, laid out as
in a data directory; blobs are immutable, so copying them after the snapshot copies what it names), and
`keys.json`, so that clients' keys and signed image links keep working after a restore. It is written beside
its destination and renamed into place when complete: a folder under the destination's name is a whole backup.

Restore checks the manifest, the copy of the database and every blob's digest before anything is in place,
and builds the data directory beside its destination too: it never leaves half a data directory.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from .blobs import FolderBlobStore, write_durably
from .sql.db import utcnow
from .interface import Store
from .keyfile import KEYS_FILE

FORMAT = "cvlocal-backup"
VERSION = 1
MANIFEST = "manifest.json"
BLOBS = "blobs"


class BackupError(ValueError):
    """A backup or restore that cannot be made as asked; the message says what to fix."""


@dataclass(frozen=True)
class Manifest:
    format: str
    version: int
    created: str
    service_version: str
    blobs: int
    blob_bytes: int
    keys: bool


def require_empty(folder: Path, role: str) -> None:
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BackupError(f"The {role} {folder} is not empty; name a new or empty folder.")


def _beside(destination: Path, what: str) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=destination.parent, prefix=f".{destination.name}.{what}-"))


def _into_place(work: Path, destination: Path) -> None:
    if destination.exists():
        destination.rmdir()  # empty (checked first); a folder made there since fails here, and nothing moves
    os.rename(work, destination)


def backup(store: Store, keys_file: Path | None, destination: Path, service_version: str) -> Manifest:
    """Copy the store's metadata, the blobs it names and the keys into the new folder `destination`."""
    require_empty(destination, "backup destination")
    work = _beside(destination, "partial")
    try:
        copies = FolderBlobStore(work / BLOBS)
        total = 0
        digests = store.backup_metadata(work)
        for digest in sorted(digests):
            data = store.blobs.get(digest)
            if copies.put(data) != digest:
                raise BackupError(f"The blob {digest} is damaged in the data directory (its bytes no longer have "
                                  "that digest); nothing was backed up.")
            total += len(data)
        has_keys = keys_file is not None and keys_file.exists()
        if has_keys:
            write_durably(work / KEYS_FILE, keys_file.read_bytes())  # a temporary file of mode 0600, renamed
        manifest = Manifest(FORMAT, VERSION, utcnow(), service_version, len(digests), total, has_keys)
        write_durably(work / MANIFEST, json.dumps(asdict(manifest), indent=1).encode())
        _into_place(work, destination)
        return manifest
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def read_manifest(source: Path) -> Manifest:
    path = source / MANIFEST
    try:
        fields = json.loads(path.read_text())
        manifest = Manifest(**fields)
    except FileNotFoundError:
        raise BackupError(f"{source} holds no {MANIFEST}: it is not a cvlocal backup (or not a complete one).")
    except (ValueError, TypeError) as exc:
        raise BackupError(f"{path} is not a cvlocal backup manifest ({exc}).")
    if manifest.format != FORMAT or manifest.version > VERSION:
        raise BackupError(f"{source} is a {manifest.format} backup of version {manifest.version}; this cvlocal "
                          f"restores {FORMAT} backups up to version {VERSION}.")
    return manifest


def restore(source: Path, data_dir: Path, open_store) -> Manifest:
    """A new data directory `data_dir` (absent or empty) from the backup in `source`; `open_store(folder)` opens
    an empty store there."""
    manifest = read_manifest(source)
    require_empty(data_dir, "data directory to restore into")
    work = _beside(data_dir, "restoring")
    try:
        store = open_store(work)
        try:
            backed_up = FolderBlobStore(source / BLOBS)
            for digest in sorted(store.restore_metadata(source)):
                if not backed_up.exists(digest):
                    raise BackupError(f"The backup {source} lacks the blob {digest} that its database names.")
                if store.blobs.put(backed_up.get(digest)) != digest:
                    raise BackupError(f"The blob {digest} is damaged in the backup {source}.")
        finally:
            store.close()
        if manifest.keys:
            write_durably(work / KEYS_FILE, (source / KEYS_FILE).read_bytes())
        _into_place(work, data_dir)
        return manifest
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
