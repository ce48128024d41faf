"""What /ready reports of each check, on a real store and folder: not ready while the backbone is being built,
when the database does not answer, or when the data directory cannot be written; and why, in words. And what a
starting service loads: not the training libraries."""
from __future__ import annotations

import subprocess
import sys

from cvlocal.api.health import Readiness
from cvlocal.store import SqliteStore


def test_each_check_says_why_it_fails(tmp_path):
    store = SqliteStore(tmp_path / "data")
    readiness = Readiness(store, tmp_path / "data")
    readiness._started.acquire()  # as if its build had started and not ended
    assert readiness.checks() == {"store": "ok", "backbone": "building", "dataDir": "ok"}
    gone = Readiness(store, tmp_path / "unmounted")
    assert gone.checks()["dataDir"].startswith(f"the data directory {tmp_path / 'unmounted'} cannot be written")
    store.close()
    assert readiness.checks()["store"].startswith("the store does not answer: ProgrammingError")


def test_a_starting_service_leaves_the_training_libraries_for_its_first_training():
    """scikit-learn and scipy were half the CPU of a `cvlocal serve` start (1.9 of 3.7 s measured): the service
    imports them when it first trains, so a replica that only predicts never pays for them."""
    loaded = subprocess.run([sys.executable, "-c", "import sys, cvlocal.cli, cvlocal.app; "
                             "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy'}))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
