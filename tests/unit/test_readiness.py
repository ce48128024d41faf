"""What /ready reports of each check, on a real store and folder: not ready while the backbone is being built,
when the database does not answer, or when the data directory cannot be written; and why, in words."""
from __future__ import annotations

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
