"""The wire contract of ../shared/docs/custom-vision-api.md, checked with raw HTTP."""
from __future__ import annotations

import re
from datetime import datetime

import pytest

from harness.files import serve_files
from harness.images import photo
from harness.rest import Rest
from harness.service import TRAINING_ROOT

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


@pytest.fixture(scope="module")
def rest(cvlocal_service):
    return Rest(cvlocal_service)


@pytest.fixture(scope="module")
def published(rest):
    pid, tags, iid = rest.trained_project()
    r = rest.training("POST", f"/projects/{pid}/iterations/{iid}/publish",
                      params={"publishName": "Iteration 1", "predictionId": rest.service.prediction_resource_id})
    assert r.status_code == 200 and r.json() is True
    return pid, tags, iid


@pytest.fixture
def image_server():
    """Serves one generated JPEG on loopback, as a public image URL would."""
    with serve_files({"/red.jpg": photo("red", 999)}) as server:
        yield server.url("/red.jpg")


def test_powershell_client_posts_single_quoted_body_to_the_portal_prediction_url(rest, published, image_server):
    pid, _, _ = published
    # AI-900 classify-image.ps1: the portal's URL (v3.0, capital P), Prediction-Key, pseudo-JSON body.
    r = rest.http.post(f"/customvision/v3.0/Prediction/{pid}/classify/iterations/Iteration%201/url",
                       headers={"Prediction-Key": rest.service.prediction_key, "Content-Type": "application/json"},
                       content=f"{{'url' : '{image_server}'}}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    predictions = r.json()["predictions"]
    assert predictions[0]["tagName"] == "red"
    assert [p["probability"] for p in predictions] == sorted((p["probability"] for p in predictions), reverse=True)


def test_portal_recipe_octet_stream_and_url_with_capital_key(rest, published, image_server):
    pid, _, _ = published
    for suffix in ("image", "image/nostore"):
        r = rest.http.post(f"/customvision/v3.0/Prediction/{pid}/classify/iterations/Iteration%201/{suffix}",
                           headers={"Prediction-Key": rest.service.prediction_key,
                                    "Content-Type": "application/octet-stream"}, content=photo("blue", 1234))
        assert r.status_code == 200, r.text
        assert r.json()["predictions"][0]["tagName"] == "blue"
    r = rest.prediction("POST", f"/{pid}/classify/iterations/Iteration%201/url/nostore", json={"Url": image_server})
    assert r.status_code == 200 and r.json()["predictions"][0]["tagName"] == "red"


def test_any_version_and_case_of_the_route_segment(rest):
    for path in ("/customvision/v3.3/Training/domains", "/customvision/v3.4-preview/TRAINING/domains",
                 "/customvision/v2.2/training/domains"):
        r = rest.http.get(path, headers={"training-key": rest.service.training_key})
        assert r.status_code == 200, path


def test_counts_and_publish_are_bare_scalars_and_deletes_answer_204(rest):
    pid = rest.project()
    tag = rest.tag(pid, "red")
    assert rest.upload(pid, tag, [photo("red", i) for i in range(3)]).status_code == 200
    r = rest.training("GET", f"/projects/{pid}/images/tagged/count")
    assert r.status_code == 200 and r.content == b"3"
    assert rest.training("GET", f"/projects/{pid}/images/untagged/count").content == b"0"
    r = rest.training("DELETE", f"/projects/{pid}/tags/{tag}")
    assert r.status_code == 204 and r.content == b""
    assert rest.training("GET", f"/projects/{pid}/images/untagged/count").content == b"3"
    r = rest.training("DELETE", f"/projects/{pid}")
    assert r.status_code == 204 and r.content == b""


def test_models_use_camel_case_and_iso_datetimes(rest, published):
    pid, tags, iid = published
    iteration = rest.training("GET", f"/projects/{pid}/iterations/{iid}").json()
    assert iteration["publishName"] == "Iteration 1" and iteration["status"] == "Completed"
    for key in ("created", "lastModified", "trainedAt"):
        assert ISO.match(iteration[key]), iteration[key]
        datetime.fromisoformat(iteration[key].replace("Z", "+00:00"))
    image = rest.training("GET", f"/projects/{pid}/images/tagged", params={"take": 1}).json()[0]
    assert set(image) >= {"id", "created", "width", "height", "originalImageUri", "tags", "metadata"}
    assert image["tags"][0]["tagId"] in tags.values()


def test_original_image_uri_downloads_the_bytes_without_a_key_but_not_with_a_forged_link(rest):
    pid = rest.project()
    tag = rest.tag(pid, "red")
    data = photo("red", 42)
    image = rest.upload(pid, tag, [data]).json()["images"][0]["image"]
    assert rest.http.get(image["originalImageUri"]).content == data
    assert rest.http.get(image["thumbnailUri"]).headers["content-type"] == "image/jpeg"
    forged = re.sub(r"sig=\w+", "sig=" + "0" * 40, image["originalImageUri"])
    r = rest.http.get(forged)
    assert r.status_code == 404 and r.json()["code"] == "NotFound"


def _routes(rest):
    spec = rest.http.get("/openapi.json").json()
    for path, methods in spec["paths"].items():
        if path.startswith(("/training", "/prediction")):
            concrete = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", path)
            for method in methods:
                kind, rest_of_path = concrete.split("/", 2)[1:]
                root = "/customvision/v3.4-preview/training" if kind == "training" else "/customvision/v3.1/prediction"
                yield method.upper(), f"{root}/{rest_of_path}"


def test_every_route_refuses_a_missing_or_wrong_key_with_json(rest):
    routes = list(_routes(rest))
    assert len(routes) > 35
    for method, path in routes:
        for headers in ({}, {"Training-Key": "wrong"}, {"Prediction-Key": "wrong"}):
            r = rest.http.request(method, path, headers=headers)
            assert r.status_code == 401, (method, path, headers, r.status_code)
            assert set(r.json()) == {"code", "message"}


def test_the_prediction_key_cannot_train_or_read_training_data(rest):
    for method, path in _routes(rest):
        if "/training/" in path:
            r = rest.http.request(method, path, headers={"Training-Key": rest.service.prediction_key})
            assert r.status_code == 401, (method, path)
            assert r.json()["code"] == "Unauthorized"


def test_unknown_routes_answer_404_json(rest):
    for path in (TRAINING_ROOT + "/nothing/here", "/customvision/v3.1/prediction/x/y/z", "/favicon.ico"):
        r = rest.training("GET", path.removeprefix(TRAINING_ROOT)) if path.startswith(TRAINING_ROOT) \
            else rest.http.get(path, headers={"Prediction-Key": rest.service.prediction_key})
        assert r.status_code == 404, path
        assert r.json()["code"] == "NotFound" and r.json()["message"]
    r = rest.training("GET", "/projects/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404 and r.json()["code"] == "NotFoundProject"


def test_multipart_upload_like_the_sdk_and_raw_octet_stream(rest):
    pid = rest.project()
    tag = rest.tag(pid, "red")
    files = {"imageData": ("a.jpg", photo("red", 7), "application/octet-stream")}
    r = rest.training("POST", f"/projects/{pid}/images", params={"tagIds": tag}, files=files)
    assert r.status_code == 200 and r.json()["images"][0]["status"] == "OK"
    r = rest.training("POST", f"/projects/{pid}/images", params={"tagIds": tag}, content=photo("red", 8),
                      headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200 and r.json()["images"][0]["status"] == "OK"
    r = rest.training("POST", f"/projects/{pid}/images", params={"tagIds": tag}, content=photo("red", 8),
                      headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200 and r.json()["images"][0]["status"] == "OKDuplicate"
    assert rest.training("GET", f"/projects/{pid}/images/tagged/count").json() == 2
