"""The schema's migrations on SQLite: migration 1 is the released schema, each migration applies once however
many processes open a new database together, and a database from a newer cvlocal is refused."""
from __future__ import annotations

import shutil
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from cvlocal.store import SqliteStore
from cvlocal.store.records import ImageQuery
from cvlocal.store.sql.schema import LATEST, MIGRATIONS, SchemaTooNew, statements

RELEASED = Path(__file__).resolve().parents[1] / "fixtures" / "data-folder-v1"


def _schema(path: Path) -> set[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return {(name, " ".join(sql.split())) for name, sql in db.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name != 'schema_version'")}


def test_migration_1_is_the_schema_of_the_released_data_folders(tmp_path):
    with sqlite3.connect(tmp_path / "new.db") as db:
        for statement in statements(MIGRATIONS[0].sql):
            db.execute(statement)
    assert _schema(tmp_path / "new.db") == _schema(RELEASED / "cvlocal.db")


def test_a_released_data_folder_is_migrated_in_place(tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(RELEASED, folder)
    store = SqliteStore(folder)
    try:
        assert [r[0] for r in store.db.query("SELECT version FROM schema_version ORDER BY version")] == \
            list(range(1, LATEST + 1))
        [project] = store.projects()
        assert project.name == "Colours" and len(store.iterations(project.id)) == 1
        columns = {r["name"] for r in store.db.query("PRAGMA table_info(iterations)")}
        assert {"lease_owner", "lease_expires", "attempts", "regions"} <= columns
        tables = {r[0] for r in store.db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"regions", "suggestions"} <= tables
        # the released iteration (a classifier) trained on no regions; its images have none
        [iteration] = store.iterations(project.id)
        assert store.trained_regions(project.id, iteration.id) == {}
        assert all(not i.regions for i in store.images(project.id, ImageQuery(iteration_id=iteration.id)))
    finally:
        store.close()


def test_a_data_folder_of_the_release_that_listed_stored_predictions_is_migrated_too(tmp_path):
    """That release (still before versioning) made the index migration 3 makes: migration 3 finds it there."""
    folder = tmp_path / "data"
    shutil.copytree(RELEASED, folder)
    with sqlite3.connect(folder / "cvlocal.db") as db:
        db.execute("CREATE INDEX predictions_by_created ON predictions(project_id, created)")
    SqliteStore(folder).close()
    fresh = tmp_path / "fresh"
    SqliteStore(fresh).close()
    assert _schema(folder / "cvlocal.db") == _schema(fresh / "cvlocal.db")


def _open(path: str) -> list[int]:
    from cvlocal.store.sqlite.db import SqliteDatabase

    db = SqliteDatabase(Path(path))
    db.close()
    return db.migrated


def test_processes_that_open_a_new_database_together_apply_each_migration_once(tmp_path):
    # Several rounds: switching a new database to WAL finds it locked now and then when others open it at the
    # same moment (SQLite answers that at once, without waiting), about one open in a hundred here.
    with ProcessPoolExecutor(6) as pool:
        for round_ in range(8):
            path = str(tmp_path / f"cvlocal-{round_}.db")
            applied = list(pool.map(_open, [path] * 6))
            assert sorted(v for one in applied for v in one) == list(range(1, LATEST + 1))
            assert sum(bool(one) for one in applied) == 1  # the first did it all; the others found nothing left


def test_a_database_from_a_newer_cvlocal_is_refused_and_left_alone(tmp_path):
    SqliteStore(tmp_path / "data").close()
    with sqlite3.connect(tmp_path / "data" / "cvlocal.db") as db:
        db.execute("INSERT INTO schema_version VALUES (?, 'from the future', 'x')", (LATEST + 1,))
    before = _schema(tmp_path / "data" / "cvlocal.db")
    with pytest.raises(SchemaTooNew, match=f"schema version {LATEST + 1}, newer than this cvlocal knows"):
        SqliteStore(tmp_path / "data")
    assert _schema(tmp_path / "data" / "cvlocal.db") == before
