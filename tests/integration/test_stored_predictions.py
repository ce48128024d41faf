"""Stored predictions through the official SDK: query_predictions (filters, orders, continuation), delete_prediction,
and create_images_from_predictions, the portal's active-learning loop."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training.models import (CustomVisionErrorException,
                                                                         ImageFileCreateBatch, ImageFileCreateEntry,
                                                                         ImageIdCreateBatch, ImageIdCreateEntry,
                                                                         PredictionQueryTag, PredictionQueryToken)

from harness.images import photo
from harness.rest import Rest


def train(trainer, project_id):
    iteration = trainer.train_project(project_id, force_train=True)
    while iteration.status == "Training":
        time.sleep(0.3)
        iteration = trainer.get_iteration(project_id, iteration.id)
    assert iteration.status == "Completed", iteration.training_error_details
    return iteration


@pytest.fixture(scope="module")
def world(trainer, predictor, cvlocal_service):
    """A project with two iterations and eight stored predictions: quick tests of both iterations, and
    published predictions under two application names; none kept by the /nostore and store=false routes."""
    project = trainer.create_project(f"stored {uuid.uuid4().hex[:8]}")
    tags = {c: trainer.create_tag(project.id, c) for c in ("red", "blue", "green")}
    for colour, tag in tags.items():
        entries = [ImageFileCreateEntry(name=f"{colour}{n}.jpg", contents=photo(colour, n)) for n in range(5)]
        assert trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries,
                                                                                 tag_ids=[tag.id])).is_batch_successful
    first, second = train(trainer, project.id), train(trainer, project.id)
    sent = {}
    for n, colour in enumerate(("red", "blue", "green")):
        sent[trainer.quick_test_image(project.id, photo(colour, 300 + n), iteration_id=first.id).id] = colour
    assert trainer.publish_iteration(project.id, second.id, "live", cvlocal_service.prediction_resource_id)
    for n, (colour, application) in enumerate([("red", "shop"), ("blue", "shop"), ("green", "shop"),
                                                ("red", "kiosk"), ("blue", "kiosk")]):
        sent[predictor.classify_image(project.id, "live", photo(colour, 400 + n), application=application).id] = colour
    predictor.classify_image_with_no_store(project.id, "live", photo("red", 500))
    trainer.quick_test_image(project.id, photo("red", 501), iteration_id=first.id, store=False)
    return project, tags, first, second, sent


def query(trainer, project_id, **token):
    return trainer.query_predictions(project_id, PredictionQueryToken(**token))


def every(trainer, project_id, **token):
    """All pages, max_count 3 at a time, by sending the answer's token back as the SDK's callers do."""
    result = query(trainer, project_id, max_count=3, **token)
    out = list(result.results)
    while result.token.continuation:
        assert len(result.results) == 3
        result = trainer.query_predictions(project_id, result.token)
        out += result.results
    return out


def test_every_stored_prediction_once_newest_first_with_its_image(trainer, world):
    project, tags, first, second, sent = world
    listed = every(trainer, project.id)
    assert [p.id for p in listed] == [p.id for p in query(trainer, project.id, max_count=50).results]
    assert {p.id for p in listed} == set(sent)  # nostore and store=false kept nothing
    assert [p.created for p in listed] == sorted((p.created for p in listed), reverse=True)
    assert [p.id for p in every(trainer, project.id, order_by="Oldest")] == [p.id for p in reversed(listed)]
    for p in listed:
        assert p.project == project.id and p.iteration in (first.id, second.id) and p.domain == project.settings.domain_id
        assert p.predictions[0].tag_name == sent[p.id]
        assert [x.probability for x in p.predictions] == sorted((x.probability for x in p.predictions), reverse=True)
    thumbnail = httpx.get(listed[0].thumbnail_uri)
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/jpeg"
    original = httpx.get(listed[-1].original_image_uri)
    assert original.content == photo("red", 300)  # the oldest: the first quick test
    forged = listed[0].original_image_uri.replace(listed[0].id, listed[1].id)
    assert httpx.get(forged).status_code == 404


def test_filters_by_iteration_application_tag_probability_and_time(trainer, world):
    project, tags, first, second, sent = world
    assert {p.iteration for p in every(trainer, project.id, iteration_id=first.id)} == {first.id}
    assert len(every(trainer, project.id, iteration_id=second.id)) == 5
    assert len(every(trainer, project.id, application="shop")) == 3
    assert len(every(trainer, project.id, application="kiosk", iteration_id=second.id)) == 2
    assert every(trainer, project.id, application="kiosk", iteration_id=first.id) == []

    everything = every(trainer, project.id)
    red, blue = tags["red"].id, tags["blue"].id
    prob = {p.id: {x.tag_id: x.probability for x in p.predictions} for p in everything}
    sure_red = every(trainer, project.id, tags=[PredictionQueryTag(id=red, min_threshold=0.5)])
    assert {p.id for p in sure_red} == {i for i, by_tag in prob.items() if by_tag[red] >= 0.5}
    assert {sent[p.id] for p in sure_red} == {"red"}
    both = every(trainer, project.id, tags=[PredictionQueryTag(id=red, max_threshold=0.5),
                                            PredictionQueryTag(id=blue, min_threshold=0.2, max_threshold=1.0)])
    assert {p.id for p in both} == {i for i, by_tag in prob.items() if by_tag[red] <= 0.5 and by_tag[blue] >= 0.2}
    assert both and len(both) < len(everything)

    newest = datetime.fromisoformat(everything[0].created.isoformat())
    assert every(trainer, project.id, start_time=newest + timedelta(seconds=1)) == []
    assert [p.id for p in every(trainer, project.id, start_time=newest)] == [everything[0].id]
    assert len(every(trainer, project.id, end_time=datetime.now(timezone.utc) + timedelta(days=1))) == len(sent)


def test_suggested_puts_the_least_certain_first(trainer, world):
    project = world[0]
    suggested = every(trainer, project.id, order_by="Suggested")
    tops = [p.predictions[0].probability for p in suggested]
    assert tops == sorted(tops) and len(suggested) == len(world[4])


def test_deleting_while_paging_skips_nothing(trainer, world, predictor):
    project, tags, first, second, sent = world
    extra = [predictor.classify_image(project.id, "live", photo("green", 600 + n), application="paging").id
             for n in range(5)]
    page = query(trainer, project.id, application="paging", max_count=2)
    assert [p.id for p in page.results] == extra[::-1][:2]
    trainer.delete_prediction(project.id, [p.id for p in page.results])
    rest = trainer.query_predictions(project.id, page.token)
    assert [p.id for p in rest.results] == extra[::-1][2:4]
    rest = trainer.query_predictions(project.id, rest.token)
    assert [p.id for p in rest.results] == [extra[0]] and rest.token.continuation is None
    trainer.delete_prediction(project.id, extra[:3] + [str(uuid.uuid4())])  # already gone or unknown: no error
    assert every(trainer, project.id, application="paging") == []


def test_query_refusals_name_what_to_fix(trainer, world, cvlocal_service):
    project, tags, *_ = world
    cases = [(dict(max_count=257), "BadRequestPredictionResultsExceededCount"),
             (dict(max_count=0), "BadRequestPredictionInvalidQueryParameters"),
             (dict(tags=[PredictionQueryTag(id=t.id) for t in tags.values()]), "BadRequestPredictionTagsExceededCount"),
             (dict(tags=[PredictionQueryTag(id=tags["red"].id, min_threshold=0.8, max_threshold=0.2)]),
              "BadRequestPredictionInvalidQueryParameters"),
             (dict(order_by="Loudest"), "BadRequestPredictionInvalidQueryParameters"),
             (dict(continuation="not-a-token"), "BadRequestPredictionInvalidQueryParameters")]
    for token, code in cases:
        with pytest.raises(CustomVisionErrorException) as refused:
            query(trainer, project.id, **token)
        assert refused.value.error.code == code, token
    page = query(trainer, project.id, max_count=1)
    with pytest.raises(CustomVisionErrorException) as refused:  # a continuation of another order
        query(trainer, project.id, max_count=1, order_by="Suggested", continuation=page.token.continuation)
    assert refused.value.error.code == "BadRequestPredictionInvalidQueryParameters"
    with pytest.raises(CustomVisionErrorException) as refused:
        query(trainer, str(uuid.uuid4()))
    assert refused.value.error.code == "NotFoundProject"

    rest = Rest(cvlocal_service)
    r = rest.training("DELETE", f"/projects/{project.id}/predictions")
    assert r.status_code == 400 and r.json()["code"] == "BadRequestPredictionIdsMissing"
    r = rest.training("DELETE", f"/projects/{project.id}/predictions",
                      params={"ids": ",".join(str(uuid.uuid4()) for _ in range(65))})
    assert r.status_code == 400 and r.json()["code"] == "BadRequestPredictionIdsExceededCount"
    assert len(every(trainer, project.id)) >= len(world[4])  # nothing was deleted


def test_a_prediction_becomes_a_training_image_with_its_tags(trainer, world):
    project, tags, first, second, sent = world
    before = trainer.get_image_count(project.id)
    red_one = next(i for i, colour in sent.items() if colour == "red")
    blue_one = next(i for i, colour in sent.items() if colour == "blue")
    summary = trainer.create_images_from_predictions(project.id, ImageIdCreateBatch(
        images=[ImageIdCreateEntry(id=red_one, tag_ids=[tags["red"].id]), ImageIdCreateEntry(id=blue_one),
                ImageIdCreateEntry(id=str(uuid.uuid4()))], tag_ids=[tags["green"].id]))
    assert not summary.is_batch_successful  # the unknown id: 207, the others are added
    assert [i.status for i in summary.images] == ["OK", "OK", "ErrorSource"]
    assert trainer.get_image_count(project.id) == before + 2
    added = summary.images[0].image
    assert {t.tag_name for t in added.tags} == {"red", "green"}
    assert {t.tag_name for t in summary.images[1].image.tags} == {"green"}
    assert httpx.get(added.original_image_uri).content == httpx.get(
        next(p for p in every(trainer, project.id) if p.id == red_one).original_image_uri).content
    again = trainer.create_images_from_predictions(project.id, ImageIdCreateBatch(
        images=[ImageIdCreateEntry(id=red_one, tag_ids=[tags["red"].id])]))
    assert again.is_batch_successful and again.images[0].status == "OKDuplicate"
    assert red_one in {p.id for p in every(trainer, project.id)}  # the prediction stays until deleted
    trainer.delete_images(project.id, [added.id, summary.images[1].image.id])


def test_images_from_predictions_are_refused_whole_when_the_batch_is_wrong(trainer, world):
    project, tags, first, second, sent = world
    other = trainer.create_project(f"other {uuid.uuid4().hex[:8]}")
    before = trainer.get_image_count(project.id)
    some = next(iter(sent))
    cases = [(ImageIdCreateBatch(images=[ImageIdCreateEntry(id=some, tag_ids=[str(uuid.uuid4())])]), "NotFoundTag"),
             (ImageIdCreateBatch(images=[ImageIdCreateEntry(id=some)] * 65), "BadRequestImageBatch"),
             (ImageIdCreateBatch(images=[]), "BadRequestImageBatch")]
    for batch, code in cases:
        with pytest.raises(CustomVisionErrorException) as refused:
            trainer.create_images_from_predictions(project.id, batch)
        assert refused.value.error.code == code
    assert trainer.get_image_count(project.id) == before
    # Another project's prediction is not this project's to add.
    summary = trainer.create_images_from_predictions(other.id, ImageIdCreateBatch(images=[ImageIdCreateEntry(id=some)]))
    assert summary.images[0].status == "ErrorSource" and trainer.get_image_count(other.id) == 0
