"""Custom Vision's training rules: validation, not needed, in progress, iteration limit, Failed states."""
from __future__ import annotations

import pytest

from harness.images import photo
from harness.rest import Rest


@pytest.fixture(scope="module")
def rest(cvlocal_service):
    return Rest(cvlocal_service)


def test_too_few_images_names_the_short_tags(rest):
    pid = rest.project()
    red, blue = rest.tag(pid, "red"), rest.tag(pid, "blue")
    rest.upload(pid, red, [photo("red", i) for i in range(5)])
    rest.upload(pid, blue, [photo("blue", i) for i in range(3)])
    r = rest.training("POST", f"/projects/{pid}/train")
    assert r.status_code == 400 and r.json()["code"] == "BadRequestTrainingValidationFailed"
    assert "'blue' (3)" in r.json()["message"] and "'red'" not in r.json()["message"]
    assert rest.training("GET", f"/projects/{pid}/iterations").json() == []


def test_one_tag_is_not_enough(rest):
    pid = rest.project()
    rest.upload(pid, rest.tag(pid, "red"), [photo("red", i) for i in range(6)])
    r = rest.training("POST", f"/projects/{pid}/train")
    assert r.status_code == 400 and "at least 2 tags" in r.json()["message"]


def test_not_needed_unless_forced_and_already_in_progress(rest):
    pid, tags, first = rest.trained_project()
    r = rest.training("POST", f"/projects/{pid}/train")
    assert r.status_code == 400 and r.json()["code"] == "BadRequestTrainingNotNeeded"
    r = rest.training("POST", f"/projects/{pid}/train", params={"forceTrain": "true"})
    assert r.status_code == 200 and r.json()["status"] == "Training"
    again = rest.training("POST", f"/projects/{pid}/train", params={"forceTrain": "true"})
    if again.status_code == 400:  # the first may already have finished on a fast machine
        assert again.json()["code"] == "BadRequestTrainingAlreadyInProgress"
    rest.wait(pid, r.json()["id"])
    names = [i["name"] for i in rest.training("GET", f"/projects/{pid}/iterations").json()]
    assert names[:2] == ["Iteration 1", "Iteration 2"]


def test_performance_follows_the_threshold_and_has_per_tag_rows(rest):
    pid, tags, iid = rest.trained_project(colours=("red", "blue", "green"))
    low = rest.training("GET", f"/projects/{pid}/iterations/{iid}/performance", params={"threshold": 0.01}).json()
    high = rest.training("GET", f"/projects/{pid}/iterations/{iid}/performance", params={"threshold": 0.99}).json()
    assert {t["name"] for t in low["perTagPerformance"]} == {"red", "blue", "green"}
    assert low["recall"] >= high["recall"]
    assert low["averagePrecision"] == high["averagePrecision"]  # AP does not depend on the threshold
    for key in ("precision", "recall", "averagePrecision", "precisionStdDeviation", "recallStdDeviation"):
        assert 0.0 <= low[key] <= 1.0


def _two_colour(seed: int) -> bytes:
    import io

    from PIL import Image
    left = Image.open(io.BytesIO(photo("red", seed)))
    right = Image.open(io.BytesIO(photo("blue", seed + 1000)))
    both = Image.new("RGB", (left.width * 2, left.height))
    both.paste(left, (0, 0))
    both.paste(right, (left.width, 0))
    out = io.BytesIO()
    both.save(out, "JPEG")
    return out.getvalue()


def _tag_both(rest, pid, red, blue, images):
    import base64
    body = {"images": [{"name": f"b{i}.jpg", "contents": base64.b64encode(b).decode(), "tagIds": [red, blue]}
                       for i, b in enumerate(images)]}
    assert rest.training("POST", f"/projects/{pid}/images/files", json=body).status_code == 200


def test_multilabel_project_learns_images_with_several_tags(rest):
    pid = rest.project("Multilabel")
    red, blue, green = rest.tag(pid, "red"), rest.tag(pid, "blue"), rest.tag(pid, "green")
    rest.upload(pid, red, [photo("red", i) for i in range(6)])
    rest.upload(pid, blue, [photo("blue", i) for i in range(6)])
    rest.upload(pid, green, [photo("green", i) for i in range(6)])
    _tag_both(rest, pid, red, blue, [_two_colour(i) for i in range(12)])
    iid = rest.train(pid)
    totals = {"red": 0.0, "blue": 0.0, "green": 0.0}
    for seed in range(500, 506):  # averaged: single synthetic images are noisy
        r = rest.training("POST", f"/projects/{pid}/quicktest/image", params={"iterationId": iid},
                          content=_two_colour(seed), headers={"Content-Type": "application/octet-stream"})
        for p in r.json()["predictions"]:
            totals[p["tagName"]] += p["probability"] / 6
    assert totals["red"] > 0.6 and totals["blue"] > 0.6 and totals["green"] < 0.3, totals


def test_a_multiclass_project_with_a_doubly_tagged_image_fails_with_the_reason(rest):
    pid = rest.project("Multiclass")
    red, blue = rest.tag(pid, "red"), rest.tag(pid, "blue")
    rest.upload(pid, red, [photo("red", i) for i in range(6)])
    rest.upload(pid, blue, [photo("blue", i) for i in range(6)])
    _tag_both(rest, pid, red, blue, [_two_colour(1)])
    r = rest.training("POST", f"/projects/{pid}/train")
    iid = r.json()["id"]
    with pytest.raises(AssertionError, match="Failed"):
        rest.wait(pid, iid)
    iteration = rest.training("GET", f"/projects/{pid}/iterations/{iid}").json()
    assert iteration["status"] == "Failed" and "more than one tag" in iteration["trainingErrorDetails"]


def test_a_published_iteration_cannot_be_deleted_and_the_limit_is_20(rest):
    pid, tags, iid = rest.trained_project(per_tag=5)
    rest.training("POST", f"/projects/{pid}/iterations/{iid}/publish",
                  params={"publishName": "live", "predictionId": rest.service.prediction_resource_id})
    r = rest.training("DELETE", f"/projects/{pid}/iterations/{iid}")
    assert r.status_code == 400 and r.json()["code"] == "BadRequestIterationIsPublished"
    for _ in range(19):
        rest.train(pid, forceTrain="true")
    r = rest.training("POST", f"/projects/{pid}/train", params={"forceTrain": "true"})
    assert r.status_code == 400 and r.json()["code"] == "BadRequestExceedIterationPerProjectLimit"
    iterations = rest.training("GET", f"/projects/{pid}/iterations").json()
    assert len(iterations) == 20
    assert rest.training("DELETE", f"/projects/{pid}/iterations/{iterations[-1]['id']}").status_code == 204


def test_publish_name_moves_only_with_overwrite(rest):
    pid, tags, first = rest.trained_project()
    second = rest.train(pid, forceTrain="true")
    publish = lambda iid, **extra: rest.training(  # noqa: E731
        "POST", f"/projects/{pid}/iterations/{iid}/publish",
        params={"publishName": "prod", "predictionId": rest.service.prediction_resource_id, **extra})
    assert publish(first).json() is True
    r = publish(second)
    assert r.status_code == 400 and r.json()["code"] == "BadRequestInvalidPublishName"
    assert publish(second, overwrite="true").json() is True
    by_id = {i["id"]: i for i in rest.training("GET", f"/projects/{pid}/iterations").json()}
    assert by_id[first]["publishName"] is None and by_id[second]["publishName"] == "prod"
    r = rest.prediction("POST", f"/{pid}/classify/iterations/prod/image", content=photo("red", 77),
                        headers={"Content-Type": "application/octet-stream"})
    assert r.json()["iteration"] == second
