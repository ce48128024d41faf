"""Content-addressed bytes: images, trained heads, held-out evaluations and exports, named by their SHA-256.

`BlobStore` is what the rest of the service relies on; `FolderBlobStore` keeps blobs as files on local disk,
`AzureBlobStore` (azure_blobs.py) in an Azure Blob Storage container. `put` returns only once the bytes
are durable, and callers commit the metadata row that names a blob after it, so a crash never leaves a row
pointing at missing bytes.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data`, synced to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store `data` durably; returns its digest (storing the same bytes twice keeps one copy)."""

    def get(self, digest: str) -> bytes:
        ...

    def exists(self, digest: str) -> bool:
        ...

    def ping(self) -> None:
        """Raise unless blobs can be read and written now (readiness)."""


class FolderBlobStore:
    """Blobs as files `root/ab/abcdef...`: written to a temporary file, fsynced, renamed into place and the
    folder fsynced."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def put(self, data: bytes) -> str:
        digest = sha256_hex(data)
        target = self.path(digest)
        if not target.exists():
            write_durably(target, data)
        return digest

    def get(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def exists(self, digest: str) -> bool:
        return self.path(digest).exists()

    def ping(self) -> None:
        if not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
            raise OSError(f"the blob folder {self.root} is not readable and writable")
