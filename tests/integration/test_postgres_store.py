"""The PostgreSQL store as replicas use it: several stores (one per replica) on one real database at once.
Idempotent uploads hold by constraint, names stay unique, one training per project, leases decide who writes
a training's result, migrations run once however many open together."""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from cvlocal.errors import CustomVisionError
from cvlocal.store.blobs import FolderBlobStore
from cvlocal.store.postgres import PostgresStore
from cvlocal.store.postgres.claims import GAVE_UP, MAX_ATTEMPTS
from cvlocal.store.records import ImageQuery, NewImage
from cvlocal.store.sql.schema import LATEST, SchemaTooNew

GENERAL = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"


@pytest.fixture
def database(postgres) -> str:
    return postgres.create_database(f"replicas_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def replicas(database, tmp_path):
    """Two stores on one database and one blob folder, as two replicas hold them."""
    blobs = FolderBlobStore(tmp_path / "blobs")
    stores = [PostgresStore(database, blobs, pool_size=4) for _ in range(2)]
    yield stores
    for store in stores:
        store.close()


def together(count: int, call) -> list:
    """`call(n)` in `count` threads released at the same moment; each one's result or CustomVisionError."""
    barrier, results = threading.Barrier(count), [None] * count

    def run(n: int) -> None:
        barrier.wait()
        try:
            results[n] = call(n)
        except CustomVisionError as error:
            results[n] = error

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def trained_project(store):
    project = store.create_project(f"p {uuid.uuid4().hex[:6]}", "", GENERAL, "Multiclass", ())
    tag = store.create_tag(project.id, "red", None, "Regular").id
    store.add_images(project.id, [NewImage(store.blobs.put(f"img {n}".encode()), 10, 10, 5, (tag,))
                                  for n in range(5)], None)
    return project, store.training_set(project.id, None)


def test_the_same_bytes_uploaded_by_eight_clients_on_two_replicas_are_one_image(replicas):
    a, b = replicas
    project = a.create_project("uploads", "", GENERAL, "Multiclass", ())
    tag = a.create_tag(project.id, "red", None, "Regular").id
    images = [NewImage(a.blobs.put(f"photo {n}".encode()), 10, 10, 7, (tag,)) for n in range(10)]
    answers = together(8, lambda n: replicas[n % 2].add_images(project.id, images[n:] + images[:n], None))
    ids = {}
    for answer in answers:
        assert not isinstance(answer, CustomVisionError), answer
        for record, _ in answer:
            assert ids.setdefault(record.sha256, record.id) == record.id  # one id per content, for everyone
    duplicates = sum(duplicate for answer in answers for _, duplicate in answer)
    assert len(ids) == 10 and duplicates == 8 * 10 - 10
    assert b.db.query_one("SELECT COUNT(*) FROM images WHERE project_id = ?", (project.id,))[0] == 10
    seqs = [r[0] for r in b.db.query("SELECT seq FROM images WHERE project_id = ? ORDER BY seq", (project.id,))]
    assert seqs == list(range(1, 11))  # the listing order counts up without ties across replicas


def test_a_name_two_replicas_create_at_once_is_taken_once(replicas):
    answers = together(6, lambda n: replicas[n % 2].create_project("same name", "", GENERAL, "Multiclass", ()))
    made = [a for a in answers if not isinstance(a, CustomVisionError)]
    assert len(made) == 1
    assert {a.code for a in answers if isinstance(a, CustomVisionError)} == {"BadRequestProjectNameNotUnique"}


def test_a_unique_index_broken_by_a_race_answers_custom_visions_error(replicas):
    store = replicas[0]
    project = store.create_project("race", "", GENERAL, "Multiclass", ())
    store.create_tag(project.id, "red", None, "Regular")
    with pytest.raises(CustomVisionError) as caught, store.db.transaction() as c:  # as a check both passed
        c.execute("INSERT INTO tags (id, project_id, name, type, created) VALUES (?,?,?,?,?)",
                  (str(uuid.uuid4()), project.id, "red", "Regular", "2026-01-01T00:00:00.000000Z"))
    assert caught.value.code == "BadRequestTagNameNotUnique"


def test_a_tiers_quotas_hold_for_replicas_writing_at_once(replicas):
    created = together(8, lambda n: replicas[n % 2].create_project(f"q{n}", "", GENERAL, "Multiclass", (),
                                                                     max_projects=3))
    assert len(replicas[0].projects()) == 3
    assert sorted(getattr(r, "code", "created") for r in created).count("BadRequestExceedProjectLimit") == 5
    pid = replicas[0].projects()[0].id
    batches = together(8, lambda n: replicas[n % 2].add_images(
        pid, [NewImage(replicas[0].blobs.put(f"quota {n}.{i}".encode()), 10, 10, 5, ()) for i in range(3)], None,
        max_images=10))
    assert sum(record is not None for batch in batches for record, _ in batch) == 10
    assert replicas[1].image_count(pid, ImageQuery()) == 10


def test_two_replicas_asked_to_train_one_project_at_once_start_one_training(replicas):
    project, training_set = trained_project(replicas[0])
    answers = together(6, lambda n: replicas[n % 2].create_iteration(project, training_set, "Regular", 0, True, 20))
    started = [a for a in answers if not isinstance(a, CustomVisionError)]
    assert len(started) == 1
    assert {a.code for a in answers if isinstance(a, CustomVisionError)} == {"BadRequestTrainingAlreadyInProgress"}


def test_only_the_lease_holder_writes_the_result(replicas):
    a, b = replicas
    project, training_set = trained_project(a)
    iteration = a.create_iteration(project, training_set, "Regular", 0, False, 20)
    assert a.claims.claim_training(0.5) == iteration.id
    assert b.claims.claim_training(60) is None  # held
    assert b.training_job(iteration.id) is None  # not b's to train
    time.sleep(0.7)  # a stops renewing (as a dead replica does): the lease runs out
    assert b.claims.claim_training(60) == iteration.id and b.training_job(iteration.id) is not None
    assert a.claims.renew_trainings(60) == 0  # a's heartbeat finds nothing of its own
    assert a.finish_training(iteration.id, "late-model", "late-heldout", 1.0, {}) is False
    assert b.finish_training(iteration.id, "model", "heldout", 2.0, {"total_s": 2.0}) is True
    done = a.iteration(project.id, iteration.id)
    assert (done.status, done.model_digest, done.training_seconds) == ("Completed", "model", 2.0)
    assert b.fail_training(iteration.id, "too late") is False  # a finished iteration stays finished


def test_a_lease_handed_back_is_claimed_at_once_and_not_counted(replicas):
    a, b = replicas
    project, training_set = trained_project(a)
    iteration = a.create_iteration(project, training_set, "Regular", 0, False, 20)
    assert a.claims.claim_training(60) == iteration.id
    assert a.claims.release_trainings() == 1
    assert b.claims.claim_training(60) == iteration.id
    assert b.db.query_one("SELECT attempts FROM iterations WHERE id = ?", (iteration.id,))[0] == 1


def test_a_training_whose_replicas_keep_dying_ends_failed(replicas):
    store = replicas[0]
    project, training_set = trained_project(store)
    iteration = store.create_iteration(project, training_set, "Regular", 0, False, 20)
    for _ in range(MAX_ATTEMPTS):
        assert store.claims.claim_training(0.01) == iteration.id
        time.sleep(0.05)
    assert store.claims.claim_training(0.01) is None
    failed = store.iteration(project.id, iteration.id)
    assert failed.status == "Failed" and failed.error_details == GAVE_UP


def test_stores_opened_together_migrate_once_and_a_newer_schema_is_refused(database, tmp_path):
    blobs = FolderBlobStore(tmp_path / "blobs")
    stores = together(6, lambda n: PostgresStore(database, blobs, pool_size=1))
    versions = stores[0].db.query("SELECT version FROM schema_version ORDER BY version")
    assert [r[0] for r in versions] == list(range(1, LATEST + 1))
    with stores[0].db.transaction() as c:
        c.execute("INSERT INTO schema_version (version, name, applied) VALUES (?, 'from the future', 'x')",
                  (LATEST + 1,))
    for store in stores:
        store.close()
    with pytest.raises(SchemaTooNew, match=f"schema version {LATEST + 1}, newer than this cvlocal"):
        PostgresStore(database, blobs, pool_size=1)
