"""Garbage collection on a real SQLite store and blob folder: what no row names and is older than the grace
period goes; what a row names, what is young, and what a racing upload is about to name stays."""
from __future__ import annotations

import os
import re
import sqlite3
import time

import pytest

from cvlocal.store import SqliteStore
from cvlocal.store.gc import collect_garbage
from cvlocal.store.records import NewImage
from cvlocal.store.sql.maintenance import referenced_blobs_sql
from cvlocal.store.sqlite.db import SqliteDatabase

GENERAL = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"
HOUR = 3600.0
NOT_BLOB_REFERENCES = {("features", "sha256")}  # the feature cache's key: a cache entry, not a blob


class UploadAfterTheRead(SqliteStore):
    """An upload racing the collection at its worst moment: its put lands after the collection read the rows
    (so the row is not among them) and after the blob was listed as old; its row commits after the sweep."""
    racing: bytes | None = None

    def referenced_blobs(self, now=None):
        referenced = super().referenced_blobs(now)
        if self.racing is not None:
            self.blobs.put(self.racing)
        return referenced


@pytest.fixture
def store(tmp_path):
    s = UploadAfterTheRead(tmp_path / "data")
    yield s
    s.close()


def _age(store, seconds: float = 2 * HOUR) -> None:
    then = time.time() - seconds
    for blob in store.blobs.listing():
        os.utime(store.blobs.path(blob.digest), (then, then))


def _project(store, n_images: int = 4):
    project = store.create_project(f"p{time.monotonic_ns()}", "", GENERAL, "Multiclass", ())
    red = store.create_tag(project.id, "red", None, "Regular").id
    blue = store.create_tag(project.id, "blue", None, "Regular").id
    images = [NewImage(store.blobs.put(f"{project.id} image {i}".encode()), 10, 10, 20, (red if i % 2 else blue,))
              for i in range(n_images)]
    records = [r for r, _ in store.add_images(project.id, images, None)]
    return project, records


def test_only_old_blobs_no_row_names_are_deleted_and_a_dry_run_deletes_none(store):
    project, images = _project(store)
    other, _ = _project(store)
    store.store_prediction("p1", other.id, "i", None, store.blobs.put(b"predicted image"), [], "now")
    store.delete_images(project.id, [images[0].id])
    store.delete_project(other.id)  # its images and its stored prediction
    exported = store.blobs.put(b"an export")
    store.create_export(_finished_iteration(store, project), "ONNX", None, "token", exported, lifetime_s=-1)
    _age(store)
    young = store.blobs.put(b"written just now, its row not yet")
    (store.blobs.root / exported[:2] / ".tmp-interrupted").write_bytes(b"half")
    os.utime(store.blobs.root / exported[:2] / ".tmp-interrupted", (0, 0))
    before = {b.digest for b in store.blobs.listing()}

    dry = collect_garbage(store, dry_run=True)
    assert {b.digest for b in store.blobs.listing()} == before and store.exports(_iteration_id(store, project))
    assert (dry.deleted, dry.young) == (7, 1)  # 1 image + 4 of the deleted project + 1 prediction + 1 export

    done = collect_garbage(store)
    assert (done.deleted, done.young, done.expired_exports, done.leftovers) == (7, 1, 1, 1)
    after = {b.digest for b in store.blobs.listing()}
    iteration = store.iteration(project.id, _iteration_id(store, project))
    assert after == {images[i].sha256 for i in (1, 2, 3)} | {young, iteration.model_digest, iteration.heldout_digest}
    assert not store.exports(_iteration_id(store, project))
    assert not list(store.blobs.root.glob("*/.tmp-*"))


def test_an_upload_of_bytes_whose_old_blob_is_being_collected_keeps_its_blob(store):
    project, images = _project(store)
    store.delete_images(project.id, [images[0].id, images[1].id])
    _age(store)
    store.racing = f"{project.id} image 0".encode()  # image 0 uploaded again, mid-collection
    result = collect_garbage(store)
    assert result.deleted == 1  # image 1, which nobody uploaded again
    store.add_images(project.id, [NewImage(images[0].sha256, 10, 10, 20, ())], None)  # the upload's row commits
    assert store.blobs.get(images[0].sha256) == store.racing
    assert not store.blobs.exists(images[1].sha256)


def test_a_put_after_the_blob_was_set_aside_writes_it_again(store):
    digest = store.blobs.put(b"bytes")
    _age(store)
    assert store.blobs.delete_stale(digest, time.time() - HOUR)
    assert store.blobs.put(b"bytes") == digest and store.blobs.get(digest) == b"bytes"
    os.utime(store.blobs.path(digest))  # freshened (a put's first step) just before a collection moves it
    assert not store.blobs.delete_stale(digest, time.time() - HOUR) and store.blobs.get(digest) == b"bytes"


def test_the_images_of_a_training_in_progress_are_kept(store):
    project, images = _project(store)
    iteration = store.create_iteration(project, store.training_set(project.id, None), "Regular", 0, False, 20)
    store.delete_images(project.id, [images[0].id])
    _age(store)
    assert collect_garbage(store).deleted == 0  # the training is about to read it
    store.fail_training(iteration.id, "stopped")
    assert collect_garbage(store).deleted == 1


def test_a_grace_period_too_short_to_be_safe_is_refused(store):
    with pytest.raises(ValueError, match="at least 60 seconds"):
        collect_garbage(store, grace_s=5)


def test_every_column_that_names_a_blob_is_in_the_collection_query(store):
    """A table or column added later that names blobs must be added to REFERENCED_BLOBS, or gc deletes them."""
    db = sqlite3.connect(store.data_dir / "cvlocal.db")
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    columns = {(t, c[1]) for t in tables for c in db.execute(f"PRAGMA table_info({t})")
               if c[1] == "sha256" or c[1].endswith("digest") or c[1] == "snapshot"}
    query = " ".join(referenced_blobs_sql(SqliteDatabase).split())
    missing = {(t, c) for t, c in columns - NOT_BLOB_REFERENCES
               if not re.search(rf"\b{c}\b.*\bFROM {t}\b|\bFROM {t}\b.*\b{c}\b", query)}
    assert not missing, f"columns naming blobs that gc does not read: {missing}"


def _finished_iteration(store, project) -> str:
    iteration = store.create_iteration(project, store.training_set(project.id, None), "Regular", 0, True, 20)
    store.finish_training(iteration.id, store.blobs.put(b"head"), store.blobs.put(b"held out"), 1.0, {})
    return iteration.id


def _iteration_id(store, project) -> str:
    return store.iterations(project.id)[0].id


def test_a_freshened_blob_is_young_again_and_a_missing_one_says_so(store):
    """A long import freshens the blobs it fetched before its transaction names them (transfer/importer.py)."""
    digest = store.blobs.put(b"fetched long ago")
    _age(store)
    assert store.blobs.freshen(digest) and collect_garbage(store).deleted == 0
    _age(store)
    assert collect_garbage(store).deleted == 1 and not store.blobs.freshen(digest)
