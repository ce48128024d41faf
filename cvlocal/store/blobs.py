"""Content-addressed bytes: images, trained heads, held-out evaluations and exports, named by their SHA-256.

`BlobStore` is what the rest of the service relies on; `FolderBlobStore` keeps blobs as files on local disk,
`AzureBlobStore` (azure_blobs.py) in an Azure Blob Storage container. `put` returns only once the bytes
are durable, and callers commit the metadata row that names a blob after it, so a crash never leaves a row
pointing at missing bytes.

Garbage collection (store/gc.py) removes blobs no row names, and only those not written for a grace period:
a blob is written before the row that names it, so a young unnamed blob may be one about to be named. A
`put` of bytes already stored freshens the blob's time, for the same reason (a deleted image uploaded again).
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

DIGEST = re.compile(r"^[0-9a-f]{64}$")
TEMPORARY_PREFIX = ".tmp-"


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
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMPORARY_PREFIX)
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


@dataclass(frozen=True)
class StoredBlob:
    digest: str
    written: float  # when last written or freshened (seconds since the epoch)
    size: int


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store `data` durably; returns its digest (storing the same bytes twice keeps one copy, freshened)."""

    def get(self, digest: str) -> bytes:
        ...

    def exists(self, digest: str) -> bool:
        ...

    def freshen(self, digest: str) -> bool:
        """Mark a stored blob as just written, as a `put` of its bytes does; False when it is not there."""

    def ping(self) -> None:
        """Raise unless blobs can be read and written now (readiness)."""

    def listing(self) -> Iterator[StoredBlob]:
        """Every blob stored."""

    def delete_stale(self, digest: str, written_before: float) -> bool:
        """Delete the blob unless it was written or freshened at or after `written_before`, including by a
        `put` racing this call; True when it was deleted."""

    def delete_leftovers(self, written_before: float) -> int:
        """Remove what interrupted writes left behind before `written_before`; how many."""


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
        if not self._freshen(target):
            write_durably(target, data)
        return digest

    def get(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def exists(self, digest: str) -> bool:
        return self.path(digest).exists()

    def freshen(self, digest: str) -> bool:
        return self._freshen(self.path(digest))

    def ping(self) -> None:
        if not os.access(self.root, os.R_OK | os.W_OK | os.X_OK):
            raise OSError(f"the blob folder {self.root} is not readable and writable")

    @staticmethod
    def _freshen(target: Path) -> bool:
        """Mark a stored blob as just written; False when it is not there (any more) and must be written.

        Against `delete_stale`, which moves a blob aside before it looks at its time: a freshen that lands
        before the move is seen by that look (the blob is put back); one after it finds nothing here, and the
        bytes are written again. Either way the blob is in place when `put` returns.
        """
        try:
            os.utime(target)
        except FileNotFoundError:
            return False
        return target.exists()

    def listing(self) -> Iterator[StoredBlob]:
        for folder in sorted(self.root.iterdir()):
            if not folder.is_dir() or len(folder.name) != 2:
                continue
            for entry in os.scandir(folder):
                if DIGEST.match(entry.name) and entry.name[:2] == folder.name:
                    try:
                        st = entry.stat()
                    except FileNotFoundError:  # deleted meanwhile
                        continue
                    yield StoredBlob(entry.name, st.st_mtime, st.st_size)

    def delete_stale(self, digest: str, written_before: float) -> bool:
        path, aside = self.path(digest), self._aside(digest)
        try:
            os.rename(path, aside)  # atomic: from here on a put() writes the bytes anew
        except FileNotFoundError:
            return False
        if aside.stat().st_mtime >= written_before:  # freshened by a put() just before the move
            self._put_back(aside, path)
            return False
        aside.unlink()
        return True

    def delete_leftovers(self, written_before: float) -> int:
        """Temporary files of writes a crash interrupted, and blobs a stopped collection left set aside (put
        back: the collection that set them aside did not finish looking at them)."""
        removed = 0
        for aside in self._aside_folder().iterdir():
            self._put_back(aside, self.path(aside.name))
        for tmp in self.root.glob(f"??/{TEMPORARY_PREFIX}*"):
            try:
                if tmp.stat().st_mtime < written_before:
                    tmp.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def _aside_folder(self) -> Path:
        folder = self.root / ".collecting"
        folder.mkdir(exist_ok=True)
        return folder

    def _aside(self, digest: str) -> Path:
        return self._aside_folder() / digest

    @staticmethod
    def _put_back(aside: Path, path: Path) -> None:
        path.parent.mkdir(exist_ok=True)
        try:
            os.link(aside, path)
        except FileExistsError:  # a put() wrote the same bytes again meanwhile
            pass
        aside.unlink()
