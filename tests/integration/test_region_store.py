"""The store's object detection tables on both engines (SQLite, and the PostgreSQL replicas share): regions with
their image tags kept in step, batches all or nothing, training sets with their boxes, iterations that keep the
boxes they trained on, and suggestions filtered by tag and probability in SQL."""
from __future__ import annotations

import uuid

import pytest

from cvlocal.errors import CustomVisionError
from cvlocal.store import SqliteStore
from cvlocal.store.blobs import FolderBlobStore
from cvlocal.store.records import ImageQuery, NewImage, NewRegion, RegionEntry

GENERAL_OD = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        opened = SqliteStore(tmp_path / "data")
    else:
        from cvlocal.store.postgres import PostgresStore

        url = request.getfixturevalue("postgres").create_database(f"regions_{uuid.uuid4().hex[:12]}")
        opened = PostgresStore(url, FolderBlobStore(tmp_path / "blobs"), pool_size=2)
    yield opened
    opened.close()


def project(store):
    created = store.create_project(f"od {uuid.uuid4().hex[:6]}", "", GENERAL_OD, "Multiclass", ())
    return created.id, {c: store.create_tag(created.id, c, None, "Regular").id for c in ("red", "blue")}


def image(store, n: int, *regions: NewRegion) -> NewImage:
    return NewImage(store.blobs.put(f"image {n} {uuid.uuid4()}".encode()), 100, 80, 10, (), tuple(regions))


def test_regions_and_the_image_tags_that_follow_them(store):
    pid, tags = project(store)
    red, blue = NewRegion(tags["red"], 0.1, 0.1, 0.2, 0.2), NewRegion(tags["blue"], 0.5, 0.5, 0.4, 0.4)
    (record, duplicate), = store.add_images(pid, [image(store, 0, red, red, blue)], None, max_regions=300)
    assert not duplicate and len(record.regions) == 2  # the same box twice is one region
    assert {t.tag_name for t in record.tags} == {"red", "blue"}
    assert store.image_count(pid, ImageQuery(tagged=True, tag_ids=(tags["blue"],))) == 1
    assert store.tag(pid, tags["red"]).image_count == 1

    (untagged, _), = store.add_images(pid, [image(store, 1)], None)
    added = store.add_regions(pid, [RegionEntry(untagged.id, red), RegionEntry(untagged.id, red),
                                    RegionEntry(record.id, blue)], max_per_image=1)
    assert [e.image_id for e, _ in added.created] == [untagged.id]
    assert [e.image_id for e in added.duplicated] == [untagged.id, record.id]
    assert added.exceeded == ()
    assert store.add_regions(pid, [RegionEntry(untagged.id, blue)], max_per_image=1).exceeded

    with pytest.raises(CustomVisionError) as unknown:  # a batch with an unknown image writes nothing
        store.add_regions(pid, [RegionEntry(untagged.id, NewRegion(tags["blue"], 0, 0, 0.1, 0.1)),
                                RegionEntry(str(uuid.uuid4()), blue)], max_per_image=300)
    assert unknown.value.code == "NotFoundImage"
    assert len(store.image(pid, untagged.id).regions) == 1

    reds = [r.id for r in store.image(pid, record.id).regions if r.tag_name == "red"]
    store.delete_regions(pid, reds + [str(uuid.uuid4())])
    assert [t.tag_name for t in store.image(pid, record.id).tags] == ["blue"]
    store.delete_tag(pid, tags["blue"])
    assert store.image(pid, record.id).regions == () and store.image(pid, record.id).tags == ()


def test_a_training_set_keeps_its_boxes_and_an_iteration_the_boxes_it_trained_on(store):
    pid, tags = project(store)
    boxes = [NewRegion(tags["red" if n % 2 else "blue"], 0.1 * n, 0.1, 0.05, 0.2) for n in range(6)]
    added = store.add_images(pid, [image(store, n, boxes[n]) for n in range(6)], None)
    training_set = store.training_set(pid, None, with_regions=True)
    assert training_set.image_counts() == {tags["red"]: 3, tags["blue"]: 3}
    assert sum(len(found) for found in training_set.regions.values()) == 6
    moved = store.add_regions(pid, [RegionEntry(added[0][0].id, NewRegion(tags["blue"], 0.7, 0.7, 0.1, 0.1))], 300)
    assert store.training_set(pid, None, with_regions=True).fingerprint != training_set.fingerprint
    store.delete_regions(pid, [moved.created[0][1].id])
    assert store.training_set(pid, None, with_regions=True).fingerprint == training_set.fingerprint

    iteration = store.create_iteration(store.project(pid), training_set, "Regular", 0, False, 20)
    if store.claims is not None:  # replicas: only a training's holder reads its job
        assert store.claims.claim_training(30) == iteration.id
    job = store.training_job(iteration.id)
    assert job.regions == training_set.regions and job.snapshot == training_set.snapshot
    assert store.trained_regions(pid, iteration.id) == training_set.regions
    negative = store.create_tag(pid, "nothing", None, "Negative").id
    store.add_regions(pid, [RegionEntry(added[1][0].id, NewRegion(negative, 0, 0, 0.5, 0.5))], 300)
    assert store.training_set(pid, None, with_regions=True).negative_tags_with_regions == ("nothing",)


def test_suggestions_are_found_by_tag_and_probability_among_untagged_images(store):
    pid, tags = project(store)
    training_set_image, = store.add_images(pid, [image(store, 0, NewRegion(tags["red"], 0, 0, 0.5, 0.5))], None)
    iteration = store.create_iteration(store.project(pid), store.training_set(pid, None, with_regions=True),
                                       "Regular", 0, False, 20)
    untagged = [r for r, _ in store.add_images(pid, [image(store, n) for n in range(1, 4)], None)]

    def prediction(tag: str, p: float) -> dict:
        return {"tagId": tags[tag], "tagName": tag, "tagType": "Regular", "probability": p,
                "boundingBox": {"left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}}

    store.store_suggestions(iteration.id, [(untagged[0].id, [prediction("red", 0.9)], 0.1, "t1"),
                                           (untagged[1].id, [prediction("blue", 0.6), prediction("red", 0.2)], 0.4,
                                            "t1"),
                                           (untagged[2].id, [], 1.0, "t1"),
                                           (training_set_image[0].id, [prediction("red", 0.99)], 0.01, "t1")])
    found = store.suggested_images(pid, iteration.id, [tags["red"]], 0.0, True, 0, 10)
    assert [s.image.id for s in found] == [untagged[1].id, untagged[0].id]  # most uncertain first; tagged: never
    assert found[0].predictions[0].bounding_box == (0.1, 0.1, 0.2, 0.2)
    assert [s.image.id for s in store.suggested_images(pid, iteration.id, [tags["red"]], 0.5, False, 0, 10)] == \
        [untagged[0].id]
    assert store.suggested_counts(pid, iteration.id, [tags["red"], tags["blue"]], 0.5) == \
        {tags["red"]: 1, tags["blue"]: 1}
    store.store_suggestions(iteration.id, [(untagged[0].id, [prediction("blue", 0.3)], 0.7, "t2")])  # replaced
    assert store.suggested_counts(pid, iteration.id, [tags["red"]], 0.0) == {tags["red"]: 1}
    store.delete_images(pid, [untagged[1].id])
    assert store.suggested_counts(pid, iteration.id, [tags["red"], tags["blue"]], 0.0) == \
        {tags["red"]: 0, tags["blue"]: 1}
