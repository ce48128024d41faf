"""Object detection's API surface over HTTP, as SDK 3.1.1 calls it: regions on every upload route, in batches
(create_image_regions, with Azure's per-entry results and limits) and deleted, in listings and their filters,
region proposals and suggested tags and regions from a trained iteration; and every kind of bad input refused
with Azure's code and status, nothing half-written, the service serving on.

One object detection project of generated scenes (a coloured block a picture, its box the region) is trained
for the module; the classification project beside it is the other project type."""
from __future__ import annotations

import base64
import math
import uuid

import pytest

from harness.files import serve_files
from harness.images import photo, scene
from harness.rest import DETECTION_TRAINING_S, GENERAL_COMPACT_OD, Rest

GENERAL_OD = "da2e3a8a-40a5-4171-82f4-58522f70fbc1"
GENERAL_CLASSIFICATION = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"


@pytest.fixture(scope="module")
def rest(cvlocal_service) -> Rest:
    return Rest(cvlocal_service)


@pytest.fixture(scope="module")
def trained(rest, cvlocal_service):
    """(project, {colour: tag}, iteration): 15 scenes a tag, trained, published as `blocks`."""
    pid, tags = rest.detection_project(per_tag=15)
    iid = rest.train(pid, timeout=DETECTION_TRAINING_S)
    r = rest.training("POST", f"/projects/{pid}/iterations/{iid}/publish",
                      params={"publishName": "blocks", "predictionId": cvlocal_service.prediction_resource_id})
    assert r.status_code == 200, r.text
    return pid, tags, iid


@pytest.fixture(scope="module")
def classifier(rest, cvlocal_service):
    """A trained classification project published as `colours`: (project, {colour: tag}, iteration)."""
    pid, tags, iid = rest.trained_project(per_tag=5)
    rest.training("POST", f"/projects/{pid}/iterations/{iid}/publish",
                  params={"publishName": "colours", "predictionId": cvlocal_service.prediction_resource_id})
    return pid, tags, iid


def refused(r, status: int, code: str) -> str:
    assert r.status_code == status and r.json()["code"] == code, (r.status_code, r.text)
    return r.json()["message"]


def region(tag: str, left=0.1, top=0.1, width=0.3, height=0.3) -> dict:
    return {"tagId": tag, "left": left, "top": top, "width": width, "height": height}


def entry(data: bytes, regions: list[dict] | None = None, name: str = "x.jpg") -> dict:
    found = {"name": name, "contents": base64.b64encode(data).decode()}
    return found if regions is None else {**found, "regions": regions}


def fresh(rest: Rest, colours=("red", "blue")) -> tuple[str, dict[str, str]]:
    pid = rest.project(domain_id=GENERAL_COMPACT_OD)
    return pid, {c: rest.tag(pid, c) for c in colours}


def count(rest: Rest, pid: str, what: str = "/images/count", **params) -> int:
    return rest.training("GET", f"/projects/{pid}{what}", params=params).json()


def images(rest: Rest, pid: str, **params) -> list[dict]:
    return rest.training("GET", f"/projects/{pid}/images", params={"take": 256, **params}).json()


# ---- uploads --------------------------------------------------------------------------------------------------
def test_regions_come_with_uploads_from_files_urls_and_stored_predictions(rest, trained):
    pid, tags = fresh(rest)
    data, (left, top, width, height) = scene("red", 900)
    boxes = [region(tags["red"], left, top, width, height), region(tags["blue"], 0.0, 0.0, 0.2, 0.25)]
    r = rest.training("POST", f"/projects/{pid}/images/files", json={"images": [entry(data, boxes)]})
    assert r.status_code == 200, r.text
    image = r.json()["images"][0]["image"]
    assert {t["tagName"] for t in image["tags"]} == {"red", "blue"}
    assert sorted((g["tagName"], g["left"], g["width"]) for g in image["regions"]) == \
        sorted([("red", left, width), ("blue", 0.0, 0.2)])
    assert all(g["regionId"] and g["created"] for g in image["regions"])

    # the same bytes again with one more box: the image gains it (OKDuplicate), the first two stay once
    again = rest.training("POST", f"/projects/{pid}/images/files",
                          json={"images": [entry(data, boxes + [region(tags["blue"], 0.5, 0.5, 0.5, 0.5)])]})
    assert again.json()["images"][0]["status"] == "OKDuplicate"
    assert len(again.json()["images"][0]["image"]["regions"]) == 3 and count(rest, pid) == 1

    other, box = scene("blue", 901)
    with serve_files({"/b.jpg": other}) as files:
        r = rest.training("POST", f"/projects/{pid}/images/urls", json={"images": [
            {"url": files.url("/b.jpg"), "regions": [region(tags["blue"], *box)]}]})
    assert r.status_code == 200 and r.json()["images"][0]["image"]["regions"][0]["tagName"] == "blue"

    # a detection kept by detect_image becomes a training image with the boxes the client accepts from it
    tpid, ttags, _ = trained
    data, _ = scene("blue", 902)
    detected = rest.prediction("POST", f"/{tpid}/detect/iterations/blocks/image", content=data,
                               headers={"Content-Type": "application/octet-stream"}).json()
    accepted = [p for p in detected["predictions"] if p["probability"] >= 0.5][:3] or detected["predictions"][:1]
    r = rest.training("POST", f"/projects/{tpid}/images/predictions", json={"images": [
        {"id": detected["id"], "regions": [{"tagId": p["tagId"], **p["boundingBox"]} for p in accepted]}]})
    assert r.status_code == 200, r.text
    made = r.json()["images"][0]["image"]
    assert sorted((g["tagId"], round(g["left"], 6)) for g in made["regions"]) == \
        sorted((p["tagId"], round(p["boundingBox"]["left"], 6)) for p in accepted)
    rest.training("DELETE", f"/projects/{tpid}/images", params={"imageIds": made["id"]})


def test_a_bad_region_fails_its_image_only_and_stores_nothing_of_it(rest):
    pid, tags = fresh(rest)
    red = tags["red"]
    batch = [entry(scene("red", 910)[0], [region(red)], "good.jpg"),
             entry(scene("red", 911)[0], [region(red, left=0.8, width=0.3)], "past-the-edge.jpg"),
             entry(scene("red", 912)[0], [region(red, width=0)], "no-width.jpg"),
             entry(scene("red", 913)[0], [region(red, height=-0.1)], "negative.jpg"),
             entry(scene("red", 914)[0], [region(red, left=-0.01)], "outside.jpg"),
             entry(scene("red", 915)[0], [region(red, left=0.001 * n % 0.9) for n in range(301)], "too-many.jpg")]
    r = rest.training("POST", f"/projects/{pid}/images/files", json={"images": batch})
    assert r.status_code == 207 and r.json()["isBatchSuccessful"] is False
    statuses = {i["sourceUrl"]: i["status"] for i in r.json()["images"]}
    assert statuses == {"good.jpg": "OK", "past-the-edge.jpg": "ErrorInvalidRegion",
                        "no-width.jpg": "ErrorInvalidRegion", "negative.jpg": "ErrorInvalidRegion",
                        "outside.jpg": "ErrorInvalidRegion", "too-many.jpg": "ErrorRegionLimitExceed"}
    assert count(rest, pid) == 1 and len(images(rest, pid)[0]["regions"]) == 1

    # Not a number (JSON has no NaN or infinity; Python's json writes them as NaN and Infinity)
    for value in ("NaN", "Infinity", "-Infinity", "1e999"):
        body = ('{"images": [{"name": "nan.jpg", "contents": "%s", "regions": [{"tagId": "%s", "left": %s, '
                '"top": 0.1, "width": 0.2, "height": 0.2}]}]}' % (base64.b64encode(scene("red", 916)[0]).decode(),
                                                                  red, value))
        r = rest.training("POST", f"/projects/{pid}/images/files", content=body,
                          headers={"Content-Type": "application/json"})
        assert r.status_code == 207 and r.json()["images"][0]["status"] == "ErrorInvalidRegion", r.text
        body = '{"regions": [{"imageId": "%s", "tagId": "%s", "left": %s, "top": 0, "width": 0.1, "height": 0.1}]}' % (
            images(rest, pid)[0]["id"], red, value)
        refused(rest.training("POST", f"/projects/{pid}/images/regions", content=body,
                              headers={"Content-Type": "application/json"}), 400, "BadRequestImageRegions")
    assert count(rest, pid) == 1 and len(images(rest, pid)[0]["regions"]) == 1


def test_uploads_of_the_other_project_type_are_refused_whole(rest, classifier):
    pid, tags = fresh(rest)
    cpid, ctags, _ = classifier
    before = count(rest, cpid)
    message = refused(rest.training("POST", f"/projects/{cpid}/images/files", json={"images": [
        entry(photo("red", 920), [region(ctags["red"])])]}), 400, "BadRequestImageRegions")
    assert "object detection" in message and count(rest, cpid) == before
    refused(rest.training("POST", f"/projects/{pid}/images/files", json={"images": [
        {**entry(scene("red", 921)[0]), "tagIds": [tags["red"]]}]}), 400, "BadRequestImageTags")
    refused(rest.training("POST", f"/projects/{pid}/images", params={"tagIds": tags["red"]},
                          files={"imageData": ("x.jpg", scene("red", 922)[0])}), 400, "BadRequestImageTags")
    # a tag no project has, or another project's: the whole batch is refused
    for stranger in (str(uuid.uuid4()), ctags["red"]):
        refused(rest.training("POST", f"/projects/{pid}/images/files", json={"images": [
            entry(scene("red", 923)[0], [region(tags["red"])]), entry(scene("red", 924)[0], [region(stranger)])]}),
            404, "NotFoundTag")
    assert count(rest, pid) == 0
    # untagged images are welcome on either type
    r = rest.training("POST", f"/projects/{pid}/images", files={"imageData": ("x.jpg", scene("red", 925)[0])})
    assert r.status_code == 200 and count(rest, pid, "/images/untagged/count") == 1


# ---- create_image_regions and delete_image_regions ------------------------------------------------------------
def _untagged(rest: Rest, pid: str, n: int, seed: int) -> list[str]:
    r = rest.training("POST", f"/projects/{pid}/images/files",
                      json={"images": [entry(scene("blue", seed + i)[0], name=f"{i}.jpg") for i in range(n)]})
    assert r.status_code == 200, r.text
    return [i["image"]["id"] for i in r.json()["images"]]


def _create(rest: Rest, pid: str, regions: list[dict]):
    return rest.training("POST", f"/projects/{pid}/images/regions", json={"regions": regions})


def test_create_image_regions_answers_per_entry_with_azures_limits(rest):
    pid, tags = fresh(rest)
    one, two = _untagged(rest, pid, 2, 930)
    red, blue = tags["red"], tags["blue"]
    r = _create(rest, pid, [{"imageId": one, **region(red)}, {"imageId": one, **region(blue, 0.5, 0.5, 0.4, 0.4)}])
    assert r.status_code == 200, r.text
    created = r.json()["created"]
    assert [(c["imageId"], c["tagName"]) for c in created] == [(one, "red"), (one, "blue")]
    assert all(c["regionId"] and c["created"] for c in created) and not r.json()["duplicated"]
    assert count(rest, pid, "/images/tagged/count") == 1 and count(rest, pid, "/images/untagged/count") == 1

    # a region the image has already, and one given twice in a batch: duplicated (207), written once
    r = _create(rest, pid, [{"imageId": one, **region(red)}, {"imageId": two, **region(red)},
                            {"imageId": two, **region(red)}])
    assert r.status_code == 207
    assert [d["imageId"] for d in r.json()["duplicated"]] == [one, two] and len(r.json()["created"]) == 1

    # 300 regions an image: the rest are exceeded
    grid = [{"imageId": two, **region(blue, (n % 20) * 0.05, (n // 20) * 0.05, 0.04, 0.04)} for n in range(305)]
    answers = [_create(rest, pid, grid[start:start + 64]) for start in range(0, len(grid), 64)]
    assert sum(len(a.json()["created"]) for a in answers) == 299  # plus the red one: 300
    assert sum(len(a.json()["exceeded"]) for a in answers) == 6 and answers[-1].status_code == 207
    assert len(rest.training("GET", f"/projects/{pid}/images/id", params={"imageIds": two}).json()[0]["regions"]) \
        == 300


def test_create_image_regions_refuses_a_bad_batch_whole(rest, classifier):
    pid, tags = fresh(rest)
    (image,) = _untagged(rest, pid, 1, 940)
    good = {"imageId": image, **region(tags["red"])}
    cases = [([good] * 65, 400, "BadRequestExceededBatchSize"),
             ([], 400, "BadRequestImageRegions"),
             ([good, {"imageId": image, **region(tags["red"], left=0.9, width=0.2)}], 400, "BadRequestImageRegions"),
             ([good, {"imageId": image, **region(tags["red"], height=0)}], 400, "BadRequestImageRegions"),
             ([good, {"imageId": str(uuid.uuid4()), **region(tags["red"])}], 404, "NotFoundImage"),
             ([good, {"imageId": image, **region(classifier[1]["red"])}], 404, "NotFoundTag")]
    for regions, status, code in cases:
        refused(_create(rest, pid, regions), status, code)
    assert count(rest, pid, "/images/tagged/count") == 0  # not even the good entries of those batches
    refused(rest.training("POST", f"/projects/{pid}/images/regions", content=b"{"), 400, "BadRequest")
    cpid, ctags, _ = classifier
    some = rest.training("GET", f"/projects/{cpid}/images", params={"take": 1}).json()[0]["id"]
    refused(_create(rest, cpid, [{"imageId": some, **region(ctags["red"])}]), 400, "BadRequestOperationNotSupported")


def test_deleting_regions_untags_the_image_once_its_last_region_of_a_tag_is_gone(rest, classifier):
    pid, tags = fresh(rest)
    (image,) = _untagged(rest, pid, 1, 950)
    made = _create(rest, pid, [{"imageId": image, **region(tags["red"])},
                               {"imageId": image, **region(tags["red"], 0.5, 0.5, 0.2, 0.2)},
                               {"imageId": image, **region(tags["blue"], 0.0, 0.6, 0.3, 0.3)}]).json()["created"]
    red_ids = [c["regionId"] for c in made if c["tagName"] == "red"]
    delete = lambda ids: rest.training("DELETE", f"/projects/{pid}/images/regions",  # noqa: E731
                                       params={"regionIds": ",".join(ids)})
    assert delete(red_ids[:1]).status_code == 204
    assert count(rest, pid, "/images/tagged/count", tagIds=tags["red"]) == 1
    assert delete(red_ids[1:] + [str(uuid.uuid4())]).status_code == 204  # an unknown id is already gone
    assert count(rest, pid, "/images/tagged/count", tagIds=tags["red"]) == 0
    listed = images(rest, pid)[0]
    assert [t["tagName"] for t in listed["tags"]] == ["blue"] and len(listed["regions"]) == 1
    refused(delete([]), 400, "BadRequestInvalidIds")
    refused(delete([str(uuid.uuid4()) for _ in range(65)]), 400, "BadRequestInvalidIds")
    refused(rest.training("DELETE", f"/projects/{classifier[0]}/images/regions", params={"regionIds": "x"}),
            400, "BadRequestOperationNotSupported")
    # deleting a tag takes its regions with it
    assert rest.training("DELETE", f"/projects/{pid}/tags/{tags['blue']}").status_code == 204
    assert images(rest, pid)[0]["regions"] == [] and count(rest, pid, "/images/untagged/count") == 1


def test_image_tags_are_not_for_object_detection_images(rest, trained):
    pid, tags, _ = trained
    image = images(rest, pid)[0]["id"]
    refused(rest.training("POST", f"/projects/{pid}/images/tags", json={"tags": [
        {"imageId": image, "tagId": tags["red"]}]}), 400, "BadRequestOperationNotSupported")
    refused(rest.training("DELETE", f"/projects/{pid}/images/tags",
                          params={"imageIds": image, "tagIds": tags["red"]}), 400, "BadRequestOperationNotSupported")


# ---- listings, iterations, performance ------------------------------------------------------------------------
def test_listings_filter_by_region_tags_and_an_iteration_lists_the_regions_it_trained_on(rest, trained):
    pid, tags, iid = trained
    red_images = rest.training("GET", f"/projects/{pid}/images/tagged",
                               params={"tagIds": tags["red"], "take": 256}).json()
    assert len(red_images) >= 15 and all({g["tagName"] for g in i["regions"]} == {"red"} for i in red_images)
    assert count(rest, pid, "/images/tagged/count", tagIds=tags["red"]) == len(red_images)
    tag = rest.training("GET", f"/projects/{pid}/tags/{tags['red']}").json()
    assert tag["imageCount"] == len(red_images)
    as_trained = rest.training("GET", f"/projects/{pid}/images/id",
                               params={"imageIds": red_images[0]["id"], "iterationId": iid}).json()[0]
    assert as_trained["regions"] == red_images[0]["regions"]
    # move a box: the project changes, the iteration's record does not
    moved = {"imageId": red_images[0]["id"], **region(tags["red"], 0.0, 0.0, 0.11, 0.11)}
    new = _create(rest, pid, [moved]).json()["created"][0]["regionId"]
    assert len(rest.training("GET", f"/projects/{pid}/images/id", params={
        "imageIds": red_images[0]["id"], "iterationId": iid}).json()[0]["regions"]) == len(red_images[0]["regions"])
    assert rest.training("DELETE", f"/projects/{pid}/images/regions", params={"regionIds": new}).status_code == 204


def test_performance_and_image_performances_of_a_detector(rest, trained):
    pid, tags, iid = trained
    base = f"/projects/{pid}/iterations/{iid}/performance"
    loose = rest.training("GET", base, params={"threshold": 0.5, "overlapThreshold": 0.3}).json()
    strict = rest.training("GET", base, params={"threshold": 0.5, "overlapThreshold": 0.9}).json()
    assert {t["name"] for t in loose["perTagPerformance"]} == set(tags)
    assert strict["averagePrecision"] <= loose["averagePrecision"]
    for bad in ({"overlapThreshold": 1.5}, {"overlapThreshold": "NaN"}, {"threshold": -0.1}):
        refused(rest.training("GET", base, params=bad), 400, "BadRequest")
    per_image = rest.training("GET", f"{base}/images", params={"take": 3, "tagIds": tags["blue"]}).json()
    assert len(per_image) == 3
    for image in per_image:
        assert {g["tagName"] for g in image["regions"]} == {"blue"}
        assert all(p["boundingBox"] for p in image["predictions"])
    assert rest.training("GET", f"{base}/images/count", params={"tagIds": tags["blue"]}).json() == 15


# ---- proposals and suggestions --------------------------------------------------------------------------------
def test_region_proposals_come_from_the_newest_trained_iteration(rest, trained, classifier):
    pid, tags, _ = trained
    image = images(rest, pid)[0]["id"]
    r = rest.training("POST", f"/projects/{pid}/images/{image}/regionproposals")
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["projectId"] == pid and found["imageId"] == image and found["proposals"]
    confidences = [p["confidence"] for p in found["proposals"]]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0 <= p["boundingBox"]["left"] <= 1 and p["boundingBox"]["width"] > 0 for p in found["proposals"])
    untrained, _ = fresh(rest)
    (other,) = _untagged(rest, untrained, 1, 960)
    refused(rest.training("POST", f"/projects/{untrained}/images/{other}/regionproposals"), 404, "NotFoundIteration")
    refused(rest.training("POST", f"/projects/{pid}/images/{uuid.uuid4()}/regionproposals"), 404, "NotFoundImage")
    some = images(rest, classifier[0])[0]["id"]
    refused(rest.training("POST", f"/projects/{classifier[0]}/images/{some}/regionproposals"), 400,
            "BadRequestOperationNotSupported")


def test_suggested_tags_and_regions_of_untagged_images(rest, trained):
    pid, tags, iid = trained
    untagged = _untagged(rest, pid, 3, 970)
    try:
        r = rest.training("POST", f"/projects/{pid}/tagsandregions/suggestions",
                          params={"iterationId": iid, "imageIds": ",".join(untagged)})
        assert r.status_code == 200, r.text
        suggested = {s["id"]: s for s in r.json()}
        assert set(suggested) == set(untagged)
        for s in suggested.values():
            assert s["iteration"] == iid and s["predictions"] and all(p["boundingBox"] for p in s["predictions"])
            assert math.isclose(s["predictionUncertainty"], 1 - s["predictions"][0]["probability"])
        query = rest.training("POST", f"/projects/{pid}/images/suggested", params={"iterationId": iid},
                              json={"tagIds": [tags["blue"]], "threshold": 0.0, "maxCount": 2,
                                    "sortBy": "UncertaintyAscending"}).json()
        first = query["results"]
        assert len(first) == 2 and query["token"]["continuation"]
        assert [x["predictionUncertainty"] for x in first] == sorted(x["predictionUncertainty"] for x in first)
        rest_of = rest.training("POST", f"/projects/{pid}/images/suggested", params={"iterationId": iid},
                                json=query["token"]).json()
        assert {x["id"] for x in first + rest_of["results"]} == set(untagged)
        assert rest_of["token"]["continuation"] is None
        counts = rest.training("POST", f"/projects/{pid}/images/suggested/count", params={"iterationId": iid},
                               json={"tagIds": [tags["blue"], tags["red"]], "threshold": 0.0}).json()
        assert counts[tags["blue"]] == 3
        # labelled now: no longer among the untagged images suggestions are listed for
        _create(rest, pid, [{"imageId": untagged[0], **region(tags["blue"])}])
        assert rest.training("POST", f"/projects/{pid}/images/suggested/count", params={"iterationId": iid},
                             json={"tagIds": [tags["blue"]]}).json()[tags["blue"]] == 2
        refused(rest.training("POST", f"/projects/{pid}/tagsandregions/suggestions",
                              params={"iterationId": str(uuid.uuid4()), "imageIds": untagged[1]}), 404,
                "NotFoundIteration")
        refused(rest.training("POST", f"/projects/{pid}/tagsandregions/suggestions",
                              params={"iterationId": iid, "imageIds": ",".join([untagged[1]] * 0)}), 400,
                "BadRequestInvalidIds")
        refused(rest.training("POST", f"/projects/{pid}/images/suggested", json={}), 400,
                "BadRequestRequiredParamIsNull")
    finally:
        rest.training("DELETE", f"/projects/{pid}/images", params={"imageIds": ",".join(untagged)})


# ---- training rules, the other project type, domains, exports ------------------------------------------------
def test_azures_training_rules_for_object_detection(rest):
    pid, tags = rest.detection_project(per_tag=14)
    message = refused(rest.training("POST", f"/projects/{pid}/train"), 400, "BadRequestTrainingValidationFailed")
    assert "15" in message and "'red' (14)" in message and "'blue' (14)" in message
    negative = rest.training("POST", f"/projects/{pid}/tags", params={"name": "nothing", "type": "Negative"}).json()
    (image,) = _untagged(rest, pid, 1, 980)
    _create(rest, pid, [{"imageId": image, **region(negative["id"])}])
    refused(rest.training("POST", f"/projects/{pid}/train"), 400, "BadRequestDetectionTrainingNotAllowNegativeTag")
    assert rest.training("GET", f"/projects/{pid}/iterations").json() == []


def test_calls_for_the_other_project_type_are_refused(rest, trained, classifier):
    pid, _, iid = trained
    cpid, _, ciid = classifier
    data = scene("red", 990)[0]
    octet = {"Content-Type": "application/octet-stream"}
    refused(rest.prediction("POST", f"/{pid}/classify/iterations/blocks/image", content=data, headers=octet),
            400, "BadRequestOperationNotSupported")
    for path in ("image", "image/nostore"):
        refused(rest.prediction("POST", f"/{cpid}/detect/iterations/colours/{path}", content=data, headers=octet),
                400, "BadRequestOperationNotSupported")
    with serve_files({"/x.jpg": data}) as files:
        refused(rest.prediction("POST", f"/{cpid}/detect/iterations/colours/url", json={"url": files.url("/x.jpg")}),
                400, "BadRequestOperationNotSupported")
    refused(rest.prediction("POST", f"/{pid}/detect/iterations/nothing/image", content=data, headers=octet),
            404, "NotFound")
    # a project keeps its type
    refused(rest.training("PATCH", f"/projects/{pid}", json={"settings": {"domainId": GENERAL_CLASSIFICATION}}),
            400, "BadRequestProjectUnsupportedDomainTypeChange")
    refused(rest.training("PATCH", f"/projects/{cpid}", json={"settings": {"domainId": GENERAL_OD}}),
            400, "BadRequestProjectUnsupportedDomainTypeChange")
    moved = rest.training("PATCH", f"/projects/{pid}", json={"settings": {"domainId": GENERAL_OD}})
    assert moved.status_code == 200 and moved.json()["settings"]["domainId"] == GENERAL_OD
    rest.training("PATCH", f"/projects/{pid}", json={"settings": {"domainId": GENERAL_COMPACT_OD}})
    # the detector exports to what its domain lists, and nothing else
    for platform in ("CoreML", "TensorFlow", "OpenVino"):
        refused(rest.training("POST", f"/projects/{pid}/iterations/{iid}/export", params={"platform": platform}),
                400, "BadRequestExportValidationFailed")
    # the service kept serving through all of it
    r = rest.prediction("POST", f"/{pid}/detect/iterations/blocks/image/nostore", content=data, headers=octet)
    assert r.status_code == 200 and r.json()["predictions"]


def test_object_detection_domains_are_azures(rest):
    domains = {d["id"]: d for d in rest.training("GET", "/domains").json()}
    detection = {i: d for i, d in domains.items() if d["type"] == "ObjectDetection"}
    assert {(d["name"], i) for i, d in detection.items()} >= {
        ("General", GENERAL_OD), ("Logo", "1d8ffafe-ec40-4fb2-8f90-72b3b6cecea4"),
        ("Products on Shelves", "3780a898-81c3-4516-81ae-3a139614e1f3"), ("General (compact)", GENERAL_COMPACT_OD),
        ("General (compact) [S1]", "7ec2ac80-887b-48a6-8df9-8b1357765430")}
    for d in detection.values():
        assert d["enabled"] is True
        assert d["exportablePlatforms"] == (["ONNX", "DockerFile"] if d["exportable"] else [])
    logo = "1d8ffafe-ec40-4fb2-8f90-72b3b6cecea4"
    project = rest.training("POST", "/projects", params={"name": f"logo {uuid.uuid4().hex[:8]}", "domainId": logo})
    assert project.status_code == 200 and project.json()["settings"]["domainId"] == logo


def test_export_project_and_import_project_copy_the_regions(rest, trained):
    pid, tags, _ = trained
    export = rest.training("GET", f"/projects/{pid}/export").json()
    listed = images(rest, pid)
    assert export["regionCount"] == sum(len(i["regions"]) for i in listed) >= 30 and export["imageCount"] == len(listed)
    copy = rest.training("POST", "/projects/import", params={"token": export["token"],
                                                             "name": f"blocks copy {uuid.uuid4().hex[:6]}"})
    assert copy.status_code == 200, copy.text
    copied = copy.json()
    assert copied["settings"]["domainId"] == GENERAL_COMPACT_OD

    def boxes(project_id: str) -> list:
        return sorted((i["width"], i["height"], tuple(sorted((g["tagName"], round(g["left"], 6), round(g["top"], 6),
                                                               round(g["width"], 6), round(g["height"], 6))
                                                              for g in i["regions"])))
                      for i in images(rest, project_id))
    assert boxes(copied["id"]) == boxes(pid)
    assert count(rest, copied["id"], "/images/tagged/count", tagIds=next(
        t["id"] for t in rest.training("GET", f"/projects/{copied['id']}/tags").json() if t["name"] == "red")) == \
        count(rest, pid, "/images/tagged/count", tagIds=tags["red"])
    assert rest.training("DELETE", f"/projects/{copied['id']}").status_code == 204
