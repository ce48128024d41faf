"""Garbage collection of a cluster's store: PostgreSQL rows, blobs in an Azure Blob Storage container (Azurite).
What no row names goes, what a row names stays, and a blob a replica uploads again while a collection deletes
it keeps its bytes: Azure itself refuses the delete (If-Unmodified-Since). A cluster's backup is refused with
what backs it up instead."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from cvlocal.store import gc
from cvlocal.store.azure_blobs import AzureBlobStore
from cvlocal.store.postgres import PostgresStore
from cvlocal.store.records import ImageQuery, NewImage
from harness.azurite import ACCOUNT

ROOT = Path(__file__).resolve().parents[2]
GENERAL = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"
LATER_S = 2 * gc.DEFAULT_GRACE_S  # the collection runs this much later than now: every blob is old by then


@pytest.fixture
def locations(postgres, azurite, monkeypatch) -> tuple[str, str]:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    return (postgres.create_database(f"gc_{uuid.uuid4().hex[:12]}"),
            f"azureblob://{ACCOUNT}/gc-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def store(locations):
    database, blobs = locations
    s = PostgresStore(database, AzureBlobStore.from_url(blobs), pool_size=2)
    yield s
    s.close()


def test_what_no_row_names_goes_and_what_rows_name_stays(store, monkeypatch):
    project = store.create_project("p", "", GENERAL, "Multiclass", ())
    tag = store.create_tag(project.id, "red", None, "Regular").id
    added = store.add_images(project.id, [NewImage(store.blobs.put(f"image {n}".encode()), 10, 10, 7, (tag,))
                                          for n in range(3)], None)
    store.delete_images(project.id, [added[0][0].id])
    kept = {i.sha256 for i in store.images(project.id, ImageQuery())}
    other = store.create_project("other", "", GENERAL, "Multiclass", ())
    store.store_prediction("pred", other.id, "it", None, store.blobs.put(b"predicted"), [], "now")
    store.delete_project(other.id)
    assert {b.digest for b in store.blobs.listing()} == kept | {added[0][0].sha256, store.blobs.put(b"predicted")}

    assert gc.collect_garbage(store).deleted == 0  # everything is young now
    later = time.time() + LATER_S
    monkeypatch.setattr(gc, "time", SimpleNamespace(time=lambda: later))  # the collection's clock only
    dry = gc.collect_garbage(store, dry_run=True)
    assert (dry.deleted, dry.referenced) == (2, 2) and len(list(store.blobs.listing())) == 4
    done = gc.collect_garbage(store)
    assert (done.deleted, done.referenced, done.leftovers) == (2, 2, 0)
    assert {b.digest for b in store.blobs.listing()} == kept


def test_a_blob_uploaded_again_after_the_listing_is_not_deleted(store):
    digest = store.blobs.put(b"bytes")
    time.sleep(1.5)  # Last-Modified has whole seconds
    listed_before = time.time() + 0.01
    [blob] = [b for b in store.blobs.listing() if b.digest == digest]
    assert blob.written < listed_before and blob.size == 5  # old, as the collection sees it
    time.sleep(1.5)
    assert store.blobs.put(b"bytes") == digest  # a replica uploads it again: freshened
    assert not store.blobs.delete_stale(digest, listed_before) and store.blobs.get(digest) == b"bytes"
    assert store.blobs.delete_stale(digest, time.time() + 5)  # no longer freshened since: deleted
    assert not store.blobs.exists(digest) and not store.blobs.delete_stale(digest, time.time() + 5)
    assert store.blobs.put(b"bytes") == digest and store.blobs.get(digest) == b"bytes"  # uploaded anew
    assert store.blobs.freshen(digest) and not store.blobs.freshen("0" * 64)  # what an import does, before its rows


def _cvlocal(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cvlocal", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})


def test_the_commands_on_a_cluster_gc_runs_and_backup_says_what_backs_it_up(locations, azurite, tmp_path):
    database, blobs = locations
    PostgresStore(database, AzureBlobStore.from_url(blobs), pool_size=1).close()
    env = {"CVLOCAL_DATABASE": database, "CVLOCAL_BLOBS": blobs,
           "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
    collected = _cvlocal("gc", "--dry-run", "--data-dir", str(tmp_path / "none"), env=env)
    assert collected.returncode == 0 and "would delete 0 unreferenced blobs" in collected.stdout, collected.stderr
    refused = _cvlocal("backup", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "none"), env=env)
    assert refused.returncode == 2 and "back it up with pg_dump" in refused.stderr, refused.stderr
    assert not (tmp_path / "backup").exists() and not (tmp_path / "none").exists()
