"""What the commands share: one-line errors, the data directory's maintenance lock, sizes for people."""
from __future__ import annotations

import fcntl
import sys
from contextlib import contextmanager
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


def with_store(data_dir: Path, work):
    """`work(store)` on the data directory's store, under its maintenance lock; a ValueError (BackupError
    included) is the one-line error of bad input."""
    from ..store import open_existing_store

    try:
        store = open_existing_store(data_dir)
    except ValueError as exc:
        fail(str(exc))
    try:
        with maintenance_lock(data_dir):
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
