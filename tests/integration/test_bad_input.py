"""Bad input gets a clear error and changes nothing it should not."""
from __future__ import annotations

import base64

import pytest

from harness.images import decompression_bomb, photo
from harness.rest import Rest


@pytest.fixture(scope="module")
def rest(cvlocal_service):
    return Rest(cvlocal_service)


def _files(tag: str, blobs: list[bytes]) -> dict:
    return {"images": [{"name": f"f{i}.jpg", "contents": base64.b64encode(b).decode(), "tagIds": [tag]}
                       for i, b in enumerate(blobs)]}


def test_a_corrupt_image_in_a_batch_gets_207_and_the_others_are_stored(rest):
    pid = rest.project()
    tag = rest.tag(pid, "red")
    good = photo("red", 1)
    truncated = photo("red", 2)[:500]
    r = rest.training("POST", f"/projects/{pid}/images/files", json=_files(tag, [good, truncated, b"not an image"]))
    assert r.status_code == 207
    summary = r.json()
    assert summary["isBatchSuccessful"] is False
    assert [i["status"] for i in summary["images"]] == ["OK", "ErrorImageFormat", "ErrorImageFormat"]
    assert summary["images"][1]["sourceUrl"] == "f1.jpg" and summary["images"][1]["image"] is None
    assert rest.training("GET", f"/projects/{pid}/images/tagged/count").json() == 1


def test_oversized_and_bomb_images_are_refused_with_error_image_size(rest):
    pid = rest.project()
    tag = rest.tag(pid, "red")
    oversized = photo("red", 3) + b"\0" * (6 * 1024 * 1024)  # a valid JPEG padded past 6 MB
    r = rest.training("POST", f"/projects/{pid}/images/files", json=_files(tag, [oversized, decompression_bomb()]))
    assert r.status_code == 207
    assert [i["status"] for i in r.json()["images"]] == ["ErrorImageSize", "ErrorImageSize"]
    assert rest.training("GET", f"/projects/{pid}/images/count").json() == 0


def test_65_images_in_one_batch_is_a_bad_request_and_stores_nothing(rest):
    pid = rest.project()
    tag = rest.tag(pid, "red")
    r = rest.training("POST", f"/projects/{pid}/images/files", json=_files(tag, [photo("red", i) for i in range(65)]))
    assert r.status_code == 400 and r.json()["code"] == "BadRequestImageBatch"
    assert "64" in r.json()["message"]
    assert rest.training("GET", f"/projects/{pid}/images/count").json() == 0


def test_prediction_refuses_bad_images_with_json(rest):
    pid, _, iid = rest.trained_project()
    path = f"/projects/{pid}/quicktest/image"
    r = rest.training("POST", path, params={"iterationId": iid}, content=b"garbage",
                      headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 400 and r.json()["code"] == "BadRequestImageFormat"
    big = photo("red", 1) + b"\0" * (4 * 1024 * 1024)
    r = rest.training("POST", path, params={"iterationId": iid}, content=big,
                      headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 400 and r.json()["code"] == "BadRequestImageSizeBytes"
    r = rest.training("POST", path, params={"iterationId": iid}, content=decompression_bomb(),
                      headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 400 and r.json()["code"] == "BadRequestImageFormat"


@pytest.mark.parametrize("name", ["Japanese Cherry", "épinards/bio", "苹果", "a\\b/c", "'; DROP TABLE tags; --",
                                  "x" * 256])
def test_tag_names_with_unicode_slashes_and_sql_survive_a_round_trip(rest, name):
    pid = rest.project()
    tag_id = rest.tag(pid, name)
    assert [t["name"] for t in rest.training("GET", f"/projects/{pid}/tags").json()] == [name]
    assert rest.training("GET", f"/projects/{pid}/tags/{tag_id}").json()["name"] == name
    r = rest.training("POST", f"/projects/{pid}/tags", params={"name": name})
    assert r.status_code == 400 and r.json()["code"] == "BadRequestTagNameNotUnique"


def test_unknown_ids_and_wrong_types_are_json_errors(rest):
    pid = rest.project()
    zero = "00000000-0000-0000-0000-000000000000"
    cases = [
        (("GET", f"/projects/{pid}/tags/{zero}"), 404, "NotFoundTag"),
        (("GET", f"/projects/{pid}/iterations/{zero}"), 404, "NotFoundIteration"),
        (("GET", f"/domains/{zero}"), 404, "NotFoundDomain"),
        (("POST", f"/projects/{pid}/images", {"params": {"tagIds": zero}, "content": photo("red", 1),
                                              "headers": {"Content-Type": "application/octet-stream"}}), 404,
         "NotFoundTag"),
        (("GET", f"/projects/{pid}/images/tagged", {"params": {"take": "many"}}), 400, "BadRequest"),
        (("GET", f"/projects/{pid}/images/tagged", {"params": {"take": 1000}}), 400, "BadRequest"),
        (("POST", f"/projects/{pid}/images/files", {"content": b"{not json"}), 400, "BadRequest"),
        (("POST", "/projects", {"params": {"name": "x", "classificationType": "Both"}}), 400,
         "BadRequestProjectUnknownClassification"),
        (("POST", f"/projects/{pid}/train", {"params": {"trainingType": "Quick"}}), 400, "BadRequest"),
    ]
    for call, status, code in cases:
        method, path, *kwargs = call
        r = rest.training(method, path, **(kwargs[0] if kwargs else {}))
        assert (r.status_code, r.json()["code"]) == (status, code), (call[:2], r.text)
