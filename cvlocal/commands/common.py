"""What the commands share: one-line errors, the data directory's maintenance lock, sizes for people."""
from __future__ import annotations

import fcntl
import os
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import NoReturn

BAD_INPUT = 2  # as cvops: 2 for input to fix, 1 for a failure


def fail(message: str, code: int = BAD_INPUT) -> NoReturn:
    print(f"cvlocal: {message}", file=sys.stderr)
    sys.exit(code)


@contextmanager
def maintenance_lock(data_dir: Path):
    """One backup or garbage collection of a data directory at a time: a collection running during a backup
    could delete a blob the backup's snapshot still names (deleted from the live store since)."""
    with open(data_dir / ".maintenance.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fail(f"another cvlocal backup or gc is running on {data_dir}; run this when it ends.", code=1)
        yield


def add_data_dir(parser, help: str = "the service's data directory (default .cvlocal)") -> None:
    parser.add_argument("--data-dir", type=Path, default=Path(".cvlocal"), help=help)


def add_store_location(parser) -> None:
    """--database and --blobs, as `cvlocal serve` takes them: a cluster's store instead of the data directory's."""
    parser.add_argument("--database", default=os.environ.get("CVLOCAL_DATABASE"), metavar="URL",
                        help="a cluster's postgresql://... database (default $CVLOCAL_DATABASE, else the data dir's)")
    parser.add_argument("--blobs", default=os.environ.get("CVLOCAL_BLOBS"), metavar="URL",
                        help="its blobs, azureblob://ACCOUNT/CONTAINER[/PREFIX] or a folder (default $CVLOCAL_BLOBS, "
                             "else DATA_DIR/blobs)")


def with_store(args, work):
    """`work(store)` on the store `args` name (--data-dir, or --database and --blobs), under the data
    directory's maintenance lock; a ValueError (BackupError included) is the one-line error of bad input."""
    from ..store import SchemaTooNew, StoreUnavailable, open_existing_store

    database, blobs = getattr(args, "database", None), getattr(args, "blobs", None)
    try:
        store = open_existing_store(args.data_dir, database, blobs)
    except (ValueError, StoreUnavailable, SchemaTooNew) as exc:
        fail(str(exc))
    # A cluster's store has no backup to race (PostgreSQL's own tools make those), and two collections at
    # once are safe: each blob store's delete_stale looks again as it deletes.
    lock = nullcontext() if database else maintenance_lock(args.data_dir)
    try:
        with lock:
            return work(store)
    except ValueError as exc:
        fail(str(exc))
    finally:
        store.close()


def size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def program() -> str:
    """How to run cvlocal again from this shell: `cvlocal` when it is on the PATH."""
    import shutil

    return "cvlocal" if shutil.which("cvlocal") else f"{sys.executable} -m cvlocal"
