"""get_image_performances and get_image_performance_count through the official SDK: the held-out result of every
training image, mapped to its image id through the iteration's training set, filtered by tag and paged."""
from __future__ import annotations

import random
import time
import uuid

import numpy as np
import pytest
from azure.cognitiveservices.vision.customvision.training.models import (CustomVisionErrorException,
                                                                         ImageFileCreateBatch, ImageFileCreateEntry,
                                                                         ImageTagCreateEntry)
from sklearn.metrics import average_precision_score

from harness.images import COLOURS, photo
from harness.rest import Rest

TAGS = ("alpha", "beta", "gamma")


def upload(trainer, project_id: str, images: list[tuple[bytes, str]]) -> None:
    entries = [ImageFileCreateEntry(name=f"i{n}.jpg", contents=data, tag_ids=[tag_id])
               for n, (data, tag_id) in enumerate(images)]
    for start in range(0, len(entries), 64):
        summary = trainer.create_images_from_files(project_id, ImageFileCreateBatch(images=entries[start:start + 64]))
        assert summary.is_batch_successful, [i.status for i in summary.images]


def trained(trainer, project_id: str):
    iteration = trainer.train_project(project_id, force_train=True)
    deadline = time.monotonic() + 120
    while iteration.status == "Training" and time.monotonic() < deadline:
        time.sleep(0.3)
        iteration = trainer.get_iteration(project_id, iteration.id)
    assert iteration.status == "Completed", iteration.training_error_details
    return iteration


@pytest.fixture(scope="module")
def world(trainer):
    """Labels that half follow the colour: the held-out heads are right only some of the time, so the per-tag
    precision, recall and AP are neither 0 nor 1 and a mix-up of images and held-out rows would show."""
    project = trainer.create_project(f"held-out {uuid.uuid4().hex[:8]}", classification_type="Multiclass")
    tags = {name: trainer.create_tag(project.id, name) for name in TAGS}
    rng = random.Random(7)
    colours = list(COLOURS)[:3]
    images = []
    for n in range(36):
        own = n % 3
        label = own if rng.random() < 0.6 else rng.randrange(3)
        images.append((photo(colours[own], 1000 + n), tags[TAGS[label]].id))
    upload(trainer, project.id, images)
    return project, tags, trained(trainer, project.id)


def every_image(trainer, project_id, iteration_id, **kwargs):
    out, skip = [], 0
    while True:
        page = trainer.get_image_performances(project_id, iteration_id, take=7, skip=skip, **kwargs)
        out += page
        skip += 7
        if len(page) < 7:
            return out


def probability(image, tag_id: str) -> float:
    return next(p.probability for p in image.predictions if p.tag_id == tag_id)


def test_every_trained_image_once_with_a_probability_for_every_tag(trainer, world):
    project, tags, iteration = world
    assert trainer.get_image_performance_count(project.id, iteration.id) == 36
    images = every_image(trainer, project.id, iteration.id)
    assert len({i.id for i in images}) == 36
    assert {i.id for i in images} == {i.id for i in trainer.get_tagged_images(project.id, take=256)}
    for image in images:
        assert {p.tag_id for p in image.predictions} == {t.id for t in tags.values()}
        assert [p.probability for p in image.predictions] == sorted((p.probability for p in image.predictions),
                                                                    reverse=True)
        assert sum(p.probability for p in image.predictions) == pytest.approx(1.0, abs=1e-4)  # Multiclass
        assert len(image.tags) == 1 and image.width == 96 and image.height == 72
        assert image.thumbnail_uri and image.image_uri
    oldest = trainer.get_image_performances(project.id, iteration.id, order_by="Oldest", take=256)
    assert [i.id for i in oldest] == [i.id for i in reversed(images)]


def test_the_held_out_results_give_the_iterations_own_performance(trainer, world):
    """Per tag, the per-image results reproduce the service's precision, recall (at 0.5) and average precision:
    the rows were mapped to the right images."""
    project, tags, iteration = world
    images = every_image(trainer, project.id, iteration.id)
    performance = trainer.get_iteration_performance(project.id, iteration.id, threshold=0.5)
    trivial = 0
    for tag in performance.per_tag_performance:
        scores = np.array([probability(i, tag.id) for i in images])
        positive = np.array([any(t.tag_id == tag.id for t in i.tags) for i in images])
        predicted = scores >= 0.5
        assert tag.precision == pytest.approx((predicted & positive).sum() / predicted.sum() if predicted.any()
                                              else 0.0)
        assert tag.recall == pytest.approx((predicted & positive).sum() / positive.sum())
        assert tag.average_precision == pytest.approx(average_precision_score(positive, scores))
        trivial += tag.average_precision in (0.0, 1.0)
    assert trivial < len(TAGS), "every AP is 0 or 1: the check above could not tell a mix-up"


def test_filtered_by_tag_as_the_iteration_trained_on_them(trainer, world):
    project, tags, iteration = world
    alpha, beta = tags["alpha"].id, tags["beta"].id
    only_alpha = every_image(trainer, project.id, iteration.id, tag_ids=[alpha])
    assert only_alpha and all(i.tags[0].tag_id == alpha for i in only_alpha)
    assert trainer.get_image_performance_count(project.id, iteration.id, tag_ids=[alpha]) == len(only_alpha)
    either = trainer.get_image_performance_count(project.id, iteration.id, tag_ids=[alpha, beta])
    assert either == len(only_alpha) + trainer.get_image_performance_count(project.id, iteration.id, tag_ids=[beta])

    # Retagging after training changes the project, not what the iteration trained on.
    moved = only_alpha[0]
    trainer.delete_image_tags(project.id, [moved.id], [alpha])
    again = trainer.get_image_performances(project.id, iteration.id, tag_ids=[alpha], take=256)
    assert moved.id in {i.id for i in again}
    assert [t.tag_id for t in next(i for i in again if i.id == moved.id).tags] == [alpha]
    trainer.create_image_tags(project.id, [ImageTagCreateEntry(image_id=moved.id, tag_id=alpha)])


def test_a_deleted_image_leaves_the_held_out_listing(trainer):
    project = trainer.create_project(f"held-out delete {uuid.uuid4().hex[:8]}")
    red, blue = trainer.create_tag(project.id, "red"), trainer.create_tag(project.id, "blue")
    upload(trainer, project.id, [(photo("red", 50 + n), red.id) for n in range(5)] +
           [(photo("blue", 60 + n), blue.id) for n in range(6)])
    iteration = trained(trainer, project.id)
    gone = trainer.get_image_performances(project.id, iteration.id, tag_ids=[blue.id], take=1)[0]
    trainer.delete_images(project.id, [gone.id])
    assert trainer.get_image_performance_count(project.id, iteration.id) == 10
    assert gone.id not in {i.id for i in trainer.get_image_performances(project.id, iteration.id, take=256)}
    # The rest keep their own rows: each blue image is still predicted blue by its held-out head.
    for image in trainer.get_image_performances(project.id, iteration.id, tag_ids=[blue.id]):
        assert image.predictions[0].tag_id == blue.id


def test_refusals_say_what_to_fix(trainer, world, cvlocal_service):
    project, tags, iteration = world
    with pytest.raises(CustomVisionErrorException) as missing:
        trainer.get_image_performances(project.id, str(uuid.uuid4()))
    assert missing.value.error.code == "NotFoundIteration"
    rest = Rest(cvlocal_service)
    base = f"/projects/{project.id}/iterations/{iteration.id}/performance/images"
    r = rest.training("GET", base, params={"take": 257})
    assert r.status_code == 400 and "take" in r.json()["message"]
    r = rest.training("GET", base + "/count", params={"tagIds": ",".join(str(uuid.uuid4()) for _ in range(21))})
    assert r.status_code == 400 and "20" in r.json()["message"]
    r = rest.training("GET", base, params={"orderBy": "Biggest"})
    assert r.status_code == 400 and "orderBy" in r.json()["message"]


def test_an_iteration_that_failed_has_no_held_out_results(trainer, cvlocal_service):
    rest = Rest(cvlocal_service)
    pid = rest.project()
    red, blue = rest.tag(pid, "red"), rest.tag(pid, "blue")
    rest.upload(pid, red, [photo("red", n) for n in range(5)])
    rest.upload(pid, blue, [photo("blue", n) for n in range(5)])
    both = rest.upload(pid, red, [photo("green", 1)]).json()["images"][0]["image"]["id"]
    rest.training("POST", f"/projects/{pid}/images/tags", json={"tags": [{"imageId": both, "tagId": blue}]})
    iid = rest.training("POST", f"/projects/{pid}/train").json()["id"]  # Multiclass, an image with two tags: fails
    with pytest.raises(AssertionError, match="Failed"):
        rest.wait(pid, iid)
    for call in (trainer.get_image_performances, trainer.get_image_performance_count):
        with pytest.raises(CustomVisionErrorException) as refused:
            call(pid, iid)
        assert refused.value.error.code == "BadRequestIterationIsNotTrained"
