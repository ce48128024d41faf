"""Property-based fuzzing of every route: whatever arrives, the answer is never a 5xx and always JSON; once with
the ids of a trained classification project, once with those of a trained object detection project (and bodies
of regions, with any numbers in them)."""
from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.images import photo
from harness.rest import DETECTION_TRAINING_S, Rest

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                       max_leaves=12)
QUERY_NAMES = ["name", "tagIds", "imageIds", "iterationId", "take", "skip", "threshold", "publishName",
               "predictionId", "platform", "forceTrain", "trainingType", "classificationType", "domainId",
               "orderBy", "allImages", "overwrite", "store", "type", "reservedBudgetInHours", "regionIds",
               "overlapThreshold"]
NUMBER = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-2, 2) | st.sampled_from([0, 1, 0.5, 1e-9])


@pytest.fixture(scope="module")
def world(cvlocal_service):
    """A trained, published project, so fuzzed ids sometimes hit real things."""
    rest = Rest(cvlocal_service)
    pid, tags, iid = rest.trained_project(per_tag=5)
    rest.training("POST", f"/projects/{pid}/iterations/{iid}/publish",
                  params={"publishName": "fuzz", "predictionId": cvlocal_service.prediction_resource_id})
    spec = rest.http.get("/openapi.json").json()
    routes = [(m.upper(), p) for p, ms in spec["paths"].items() for m in ms if p.startswith(("/training", "/prediction"))]
    return rest, {"project_id": pid, "iteration_id": iid, "tag_id": next(iter(tags.values())),
                  "published_name": "fuzz"}, routes


@pytest.fixture(scope="module")
def detection_world(world, cvlocal_service):
    """A trained, published object detection project (generated scenes), its ids and one of its images."""
    rest, _, routes = world
    pid, tags = rest.detection_project(colours=("red",), per_tag=15)  # one tag: the fewest images that train
    iid = rest.train(pid, timeout=DETECTION_TRAINING_S)
    rest.training("POST", f"/projects/{pid}/iterations/{iid}/publish",
                  params={"publishName": "fuzz", "predictionId": cvlocal_service.prediction_resource_id})
    image = rest.training("GET", f"/projects/{pid}/images", params={"take": 1}).json()[0]
    return rest, {"project_id": pid, "iteration_id": iid, "tag_id": tags["red"], "published_name": "fuzz",
                  "image_id": image["id"]}, routes, image["regions"][0]["regionId"]


def _fill(path: str, ids: dict, junk: str, use_real: bool) -> str:
    def value(m):
        return ids.get(m.group(1), junk) if use_real else junk
    # Path params go out percent-quoted with safe='', as the SDK sends them.
    return re.sub(r"\{(\w+)(?::path)?\}", lambda m: quote(value(m), safe="") or "x", path)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.too_slow])
@given(data=st.data())
def test_no_route_answers_5xx_or_non_json(world, data):
    rest, ids, routes = world
    _fuzz(rest, ids, routes, data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.too_slow])
@given(data=st.data())
def test_no_route_answers_5xx_or_non_json_for_an_object_detection_project(detection_world, data):
    rest, ids, routes, region_id = detection_world
    regions = st.lists(st.fixed_dictionaries({
        "imageId": st.sampled_from([ids["image_id"], "x"]), "tagId": st.sampled_from([ids["tag_id"], "y"]),
        "left": NUMBER, "top": NUMBER, "width": NUMBER, "height": NUMBER}), max_size=3)
    entry = st.fixed_dictionaries({"name": TEXT, "contents": st.sampled_from(["", "AAAA"]), "regions": regions})
    body = st.one_of(st.fixed_dictionaries({"regions": regions}), st.fixed_dictionaries({"images": st.lists(entry,
                                                                                                   max_size=2)}))
    _fuzz(rest, {**ids, "region_id": region_id}, routes, data, body)


def _fuzz(rest, ids: dict, routes, data, json_body=None) -> None:
    """One drawn request to one of `routes`: never a 5xx, and an error is Custom Vision's JSON."""
    method, template = data.draw(st.sampled_from(routes))
    path = _fill(template, ids, data.draw(TEXT.filter(lambda s: s.strip() not in ("", ".", ".."))),
                 data.draw(st.booleans()))
    known = [",".join([ids["tag_id"]] * 3)] + ([ids["region_id"]] if "region_id" in ids else [])
    params = data.draw(st.dictionaries(st.sampled_from(QUERY_NAMES), TEXT | st.sampled_from(
        ["true", "false", "-1", "1e309", "0.5", "NaN", "ONNX", *known]), max_size=4))
    body_kind = data.draw(st.sampled_from(["none", "json", "bytes", "image", "multipart"]
                                          + (["regions"] if json_body is not None else [])))
    kwargs: dict = {"params": params}
    if body_kind in ("json", "regions"):
        drawn = data.draw(JSONISH if body_kind == "json" else json_body)
        kwargs["content"] = json.dumps(drawn).encode()  # NaN and Infinity as Python writes them
        kwargs["headers"] = {"Content-Type": "application/json"}
    elif body_kind == "bytes":
        kwargs["content"] = data.draw(st.binary(max_size=300))
        kwargs["headers"] = {"Content-Type": data.draw(st.sampled_from(
            ["application/octet-stream", "multipart/form-data", "multipart/form-data; boundary=zz", "text/plain"]))}
    elif body_kind == "image":
        kwargs["content"] = photo("red", data.draw(st.integers(0, 5)))
        kwargs["headers"] = {"Content-Type": "application/octet-stream"}
    elif body_kind == "multipart":
        kwargs["files"] = {data.draw(st.sampled_from(["imageData", "other"])): ("x", data.draw(st.binary(max_size=200)))}
    root_kind = "training" if template.startswith("/training") else "prediction"
    caller = rest.training if root_kind == "training" else rest.prediction
    r = caller(method, path.removeprefix("/" + root_kind), **kwargs)
    assert r.status_code < 500, (method, path, kwargs.get("params"), r.status_code, r.text[:300])
    if r.status_code >= 400:
        body = r.json()
        assert set(body) == {"code", "message"} and body["message"], (method, path, r.text[:300])
