"""The store on each engine (a real SQLite file; a real PostgreSQL database): records out, training sets in,
images and tags as an iteration trained on them, and the conflict checks that live in its transactions."""
from __future__ import annotations

import hashlib
import json

import uuid

import pytest

from cvlocal.errors import CustomVisionError
from cvlocal.store import SqliteStore
from cvlocal.store.blobs import FolderBlobStore
from cvlocal.store.records import ImageQuery, NewImage, ProjectChanges, ProjectRecord, TagChanges

GENERAL = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = SqliteStore(tmp_path / "data")
    else:
        from cvlocal.store.postgres import PostgresStore

        url = request.getfixturevalue("postgres").create_database(f"store_{uuid.uuid4().hex[:12]}")
        s = PostgresStore(url, FolderBlobStore(tmp_path / "blobs"), pool_size=2)
    yield s
    s.close()


def _claimed(store, iteration_id: str) -> str:
    """Where replicas share the store, a training's job is read by the replica that claimed it."""
    if store.claims is not None:
        assert store.claims.claim_training(60) == iteration_id
    return iteration_id


def _image(store, n: int, tag_ids=()) -> NewImage:
    digest = store.blobs.put(f"image {n}".encode())
    return NewImage(digest, 100 + n, 80, 10, tuple(tag_ids))


def _project(store) -> tuple[ProjectRecord, str, str]:
    project = store.create_project("p", "", GENERAL, "Multiclass", ("ONNX",))
    red = store.create_tag(project.id, "red", None, "Regular").id
    blue = store.create_tag(project.id, "blue", "sky", "Regular").id
    store.add_images(project.id, [_image(store, i, [red]) for i in range(3)]
                     + [_image(store, i, [blue]) for i in range(3, 6)], {"camera": "a"})
    return project, red, blue


def _code(call) -> str:
    with pytest.raises(CustomVisionError) as caught:
        call()
    return caught.value.code


def test_records_come_out_decoded(store):
    project, red, blue = _project(store)
    assert project.target_export_platforms == ("ONNX",)
    changed = store.update_project(project.id, ProjectChanges(target_export_platforms=("CoreML", "ONNX")))
    assert changed.target_export_platforms == ("CoreML", "ONNX") and changed.name == "p"
    image = store.images(project.id, ImageQuery(tag_ids=(blue,), take=1))[0]
    assert image.metadata == {"camera": "a"} and [t.tag_name for t in image.tags] == ["blue"]
    assert [(t.name, t.image_count) for t in store.tags(project.id)] == [("red", 3), ("blue", 3)]
    assert _code(lambda: store.create_project("p", "", GENERAL, "Multiclass", ())) == "BadRequestProjectNameNotUnique"
    assert _code(lambda: store.project("nope")) == "NotFoundProject"


def test_an_iteration_keeps_the_images_and_tags_it_trained_on(store):
    project, red, blue = _project(store)
    training_set = store.training_set(project.id, None)
    assert training_set.image_counts() == {red: 3, blue: 3}
    iteration = store.create_iteration(project, training_set, "Regular", 0, False, max_iterations=20)
    assert iteration.status == "Training" and iteration.tags == ((red, "red"), (blue, "blue"))
    job = store.training_job(_claimed(store, iteration.id))
    assert job is not None and len(job.snapshot) == 6

    # After training: one more red image, a new tag, a red image untagged, the blue tag renamed.
    store.add_images(project.id, [_image(store, 9, [red])], None)
    green = store.create_tag(project.id, "green", None, "Regular").id
    untagged = store.images(project.id, ImageQuery(tag_ids=(red,), newest_first=False, take=1))[0]
    store.remove_image_tags(project.id, [untagged.id], [red])
    store.update_tag(project.id, blue, TagChanges(name="azure"))

    now, then = ImageQuery(tagged=True), ImageQuery(tagged=True, iteration_id=iteration.id)
    assert store.image_count(project.id, now) == 6 and store.image_count(project.id, then) == 6
    assert untagged.id in [i.id for i in store.images(project.id, then)]
    assert store.image_count(project.id, ImageQuery(tagged=False)) == 1
    assert store.image_count(project.id, ImageQuery(tagged=False, iteration_id=iteration.id)) == 0
    as_trained = {i.id: [t.tag_name for t in i.tags] for i in store.images(project.id, then)}
    assert as_trained[untagged.id] == ["red"]
    assert sorted(sum(as_trained.values(), [])) == ["blue"] * 3 + ["red"] * 3  # the names it trained with
    assert store.image_count(project.id, ImageQuery(tag_ids=(blue,), iteration_id=iteration.id)) == 3
    counts = {t.name: t.image_count for t in store.tags(project.id, iteration.id)}
    assert counts == {"red": 3, "blue": 3}
    assert store.tag(project.id, blue, iteration.id).description == "sky"
    assert _code(lambda: store.tag(project.id, green, iteration.id)) == "NotFoundTag"
    assert _code(lambda: store.tags(project.id, "no-such-iteration")) == "NotFoundIteration"


def test_conflicts_are_checked_in_the_transaction_that_creates_the_iteration(store):
    project, red, blue = _project(store)
    training_set = store.training_set(project.id, None)
    first = store.create_iteration(project, training_set, "Regular", 0, False, max_iterations=2)
    assert _code(lambda: store.create_iteration(project, training_set, "Regular", 0, True, 2)) == \
        "BadRequestTrainingAlreadyInProgress"
    assert store.finish_training(_claimed(store, first.id), "m", "h", 1.0, {"total_s": 1.0})
    assert store.training_job(first.id) is None  # no longer waits
    assert _code(lambda: store.create_iteration(project, training_set, "Regular", 0, False, 2)) == \
        "BadRequestTrainingNotNeeded"
    second = store.create_iteration(project, training_set, "Regular", 0, True, 2)
    assert store.fail_training(_claimed(store, second.id), "why")
    assert store.iteration(project.id, second.id).error_details == "why"
    assert _code(lambda: store.create_iteration(project, training_set, "Regular", 0, True, 2)) == \
        "BadRequestExceedIterationPerProjectLimit"
    assert store.iteration(project.id, first.id).timings == {"total_s": 1.0}


def test_the_fingerprint_recipe_is_the_stored_one(store):
    """Iterations already in data directories hold fingerprints of this recipe: "nothing changed" keeps working."""
    project, red, blue = _project(store)
    training_set = store.training_set(project.id, [red])
    snapshot = sorted((sha, [red]) for sha, _ in training_set.snapshot)
    expected = hashlib.sha256(json.dumps([snapshot, [(red, "red")]]).encode()).hexdigest()
    assert training_set.fingerprint == expected and training_set.tags == ((red, "red"),)


def test_a_tiers_quotas_are_checked_in_the_transaction_that_would_pass_them(store):
    project, red, blue = _project(store)  # 2 tags, 6 images
    store.create_project("q", "", GENERAL, "Multiclass", (), max_projects=2)
    assert _code(lambda: store.create_project("r", "", GENERAL, "Multiclass", (), max_projects=2)) == \
        "BadRequestExceedProjectLimit"
    assert [p.name for p in store.projects()] == ["p", "q"]
    store.create_project("r", "", GENERAL, "Multiclass", ())  # None: no limit

    store.create_tag(project.id, "green", None, "Regular", max_tags=3)
    assert _code(lambda: store.create_tag(project.id, "pink", None, "Regular", max_tags=3)) == \
        "BadRequestExceedTagPerProjectLimit"
    assert len(store.tags(project.id)) == 3

    # 6 held, room for 2 more of 8: a duplicate takes no room, the third new image is refused with no row
    added = store.add_images(project.id, [_image(store, 0, [blue]), _image(store, 20, [red]),
                                          _image(store, 21, [red]), _image(store, 22, [red])], None, max_images=8)
    assert [(record is not None, duplicate) for record, duplicate in added] == \
        [(True, True), (True, False), (True, False), (False, False)]
    assert store.image_count(project.id, ImageQuery()) == 8
    assert store.add_images(project.id, [_image(store, 23, [red])], None, max_images=8) == [(None, False)]
    assert store.add_images(project.id, [_image(store, 23, [red])], None)[0][0] is not None


def test_concurrent_creates_cannot_pass_a_quota_together(store):
    from concurrent.futures import ThreadPoolExecutor

    def create(n: int) -> str:
        try:
            return store.create_project(f"p{n}", "", GENERAL, "Multiclass", (), max_projects=3).name
        except CustomVisionError as exc:
            return exc.code

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(create, range(16)))
    assert len(store.projects()) == 3
    assert sorted(results).count("BadRequestExceedProjectLimit") == 13


def test_concurrent_uploads_cannot_pass_the_image_quota_together(store):
    from concurrent.futures import ThreadPoolExecutor

    project = store.create_project("p", "", GENERAL, "Multiclass", ())
    with ThreadPoolExecutor(6) as pool:
        batches = list(pool.map(lambda n: store.add_images(project.id, [_image(store, 10 * n + i) for i in range(4)],
                                                           None, max_images=10), range(6)))
    added = [record for batch in batches for record, _ in batch if record is not None]
    assert len(added) == 10 and store.image_count(project.id, ImageQuery()) == 10


def _stored(store, project_id: str, n: int, iteration_id: str, probabilities: dict[str, float], created: str):
    predictions = [{"tagId": tag_id, "tagName": tag_id.upper(), "probability": p}
                   for tag_id, p in sorted(probabilities.items(), key=lambda kv: -kv[1])]
    store.store_prediction(f"pred-{n}", project_id, iteration_id, "app" if n % 2 else None,
                           store.blobs.put(f"predicted {n}".encode()), predictions, created)


def test_stored_predictions_are_filtered_ordered_and_continued(store):
    from cvlocal.store.records import PredictionFilter

    project = store.create_project("p", "", GENERAL, "Multiclass", ())
    tops = [0.9, 0.5, 0.7, 0.3, 0.8]
    for n, top in enumerate(tops):
        _stored(store, project.id, n, "it-a" if n < 4 else "it-b", {"red": top, "blue": 1 - top},
                f"2024-01-0{n + 1}T00:00:00.000000Z")
    ids = lambda records: [r.id for r in records]  # noqa: E731

    assert ids(store.query_predictions(project.id, PredictionFilter())) == [f"pred-{n}" for n in (4, 3, 2, 1, 0)]
    assert ids(store.query_predictions(project.id, PredictionFilter(order="oldest", limit=2))) == ["pred-0", "pred-1"]
    suggested = store.query_predictions(project.id, PredictionFilter(order="suggested"))
    assert ids(suggested) == ["pred-1", "pred-2", "pred-3", "pred-4", "pred-0"]  # least certain first
    page = store.query_predictions(project.id, PredictionFilter(order="suggested", limit=2))
    after = (page[-1].top_probability, page[-1].id)
    assert ids(store.query_predictions(project.id, PredictionFilter(order="suggested", after=after))) == \
        ["pred-3", "pred-4", "pred-0"]
    newest = store.query_predictions(project.id, PredictionFilter(limit=2))
    assert ids(store.query_predictions(project.id, PredictionFilter(after=(newest[-1].created, newest[-1].id)))) == \
        ["pred-2", "pred-1", "pred-0"]

    red_at_least = PredictionFilter(tags=(("red", 0.6, 1.0),), order="oldest")
    assert ids(store.query_predictions(project.id, red_at_least)) == ["pred-0", "pred-2", "pred-4"]
    assert ids(store.query_predictions(project.id, PredictionFilter(iteration_id="it-b"))) == ["pred-4"]
    assert ids(store.query_predictions(project.id, PredictionFilter(application="app", order="oldest"))) == \
        ["pred-1", "pred-3"]
    window = PredictionFilter(start="2024-01-02T00:00:00.000000Z", end="2024-01-03T00:00:00.000000Z")
    assert ids(store.query_predictions(project.id, window)) == ["pred-2", "pred-1"]

    record = store.prediction_by_id("pred-2")
    assert record.domain_id == GENERAL and [(p.tag_id, p.probability) for p in record.predictions] == \
        [("red", 0.7), ("blue", pytest.approx(0.3))]
    assert sorted(ids(store.predictions_by_ids(project.id, ["pred-1", "pred-4", "unknown"]))) == ["pred-1", "pred-4"]
    store.delete_predictions(project.id, ["pred-1", "unknown"])
    store.delete_predictions(project.id, [])
    assert store.prediction_by_id("pred-1") is None and len(store.query_predictions(project.id, PredictionFilter())) == 4


def test_the_blobs_rows_name_and_expired_exports(store):
    project, red, blue = _project(store)
    images = {i.sha256 for i in store.images(project.id, ImageQuery())}
    iteration = store.create_iteration(project, store.training_set(project.id, None), "Regular", 0, False, 20)
    store.delete_images(project.id, [store.images(project.id, ImageQuery(take=1))[0].id])
    assert store.referenced_blobs() == images  # the training in progress still reads the deleted image
    head, held_out = store.blobs.put(b"head"), store.blobs.put(b"held out")
    assert store.finish_training(_claimed(store, iteration.id), head, held_out, 1.0, {})
    _stored(store, project.id, 1, iteration.id, {red: 0.9}, "2024-01-01T00:00:00.000000Z")
    lasting, expired = store.blobs.put(b"export 1"), store.blobs.put(b"export 2")
    store.create_export(iteration.id, "ONNX", None, "t1", lasting, lifetime_s=3600)
    store.create_export(iteration.id, "CoreML", None, "t2", expired, lifetime_s=-1)
    now = {i.sha256 for i in store.images(project.id, ImageQuery())}
    assert store.referenced_blobs() == now | {head, held_out, lasting, store.blobs.put(b"predicted 1")}
    assert store.delete_expired_exports() == 1 and [e.platform for e in store.exports(iteration.id)] == ["ONNX"]
    store.ping()


def test_a_project_exported_and_imported_is_the_same_project_anew(store):
    project, red, blue = _project(store)
    store.add_images(project.id, [_image(store, 9)], None)  # untagged
    export = store.create_project_export(project.id, lifetime_s=3600)
    assert store.project_export(export.id).project == export.project
    exported = export.project
    assert (len(exported.tags), len(exported.images), exported.region_count) == (2, 7, 0)
    assert [t.name for t in exported.tags] == ["red", "blue"] and exported.target_export_platforms == ("ONNX",)

    def shape(project_id):
        tag_names = {t.id: t.name for t in store.tags(project_id)}
        return sorted((i.sha256, i.width, dict(i.metadata), tuple(sorted(tag_names[t.tag_id] for t in i.tags)))
                      for i in store.images(project_id, ImageQuery(take=100)))

    copy = store.import_project(export, None)
    assert copy.name == "p (2)" and copy.id != project.id and copy.target_export_platforms == ("ONNX",)
    assert shape(copy.id) == shape(project.id) and len(shape(copy.id)) == 7
    assert [(t.name, t.description, t.image_count) for t in store.tags(copy.id)] == \
        [("red", None, 3), ("blue", "sky", 3)]
    assert store.import_project(export.project, None).name == "p (3)"  # as read from another service
    assert store.import_project(export, "named").name == "named"

    projects = len(store.projects())
    assert _code(lambda: store.import_project(export, "p")) == "BadRequestProjectNameNotUnique"
    assert _code(lambda: store.import_project(export, "q", max_projects=projects)) == "BadRequestExceedProjectLimit"
    assert _code(lambda: store.import_project(export, "q", max_tags=1)) == "BadRequestExceedTagPerProjectLimit"
    assert _code(lambda: store.import_project(export, "q", max_images=6)) == "BadRequestImageExceededCount"
    assert len(store.projects()) == projects  # a refused import writes nothing

    store.delete_images(project.id, None)  # the export still names the images' blobs until it expires
    assert {i.sha256 for i in exported.images} <= store.referenced_blobs()
    store.delete_project(copy.id)
    assert store.import_project(export, "after").name == "after"  # the export is of the project as it was

    expired = store.create_project_export(project.id, lifetime_s=-1)
    assert store.project_export(expired.id) is None
    assert _code(lambda: store.import_project(expired, "late")) == "BadRequestInvalidImportToken"
    store.create_iteration(project, store.training_set(project.id, None), "Regular", 0, True, 20)
    assert _code(lambda: store.create_project_export(project.id, 3600)) == "BadRequestExportWhileTraining"
    assert store.delete_expired_exports() == 1
    for iteration in store.iterations(project.id):
        store.fail_training(iteration.id, "stopped")
    store.delete_project(project.id)
    assert store.project_export(export.id) is None  # a token stops working with its project
