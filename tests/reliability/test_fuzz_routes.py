"""Property-based fuzzing of every route: whatever arrives, the answer is never a 5xx and always JSON."""
from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.images import photo
from harness.rest import Rest

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                       max_leaves=12)
QUERY_NAMES = ["name", "tagIds", "imageIds", "iterationId", "take", "skip", "threshold", "publishName",
               "predictionId", "platform", "forceTrain", "trainingType", "classificationType", "domainId",
               "orderBy", "allImages", "overwrite", "store", "type", "reservedBudgetInHours"]


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
    method, template = data.draw(st.sampled_from(routes))
    path = _fill(template, ids, data.draw(TEXT.filter(lambda s: s.strip() not in ("", ".", ".."))),
                 data.draw(st.booleans()))
    params = data.draw(st.dictionaries(st.sampled_from(QUERY_NAMES), TEXT | st.sampled_from(
        ["true", "false", "-1", "1e309", "0.5", "ONNX", ",".join([ids["tag_id"]] * 3)]), max_size=4))
    body_kind = data.draw(st.sampled_from(["none", "json", "bytes", "image", "multipart"]))
    kwargs: dict = {"params": params}
    if body_kind == "json":
        kwargs["content"] = json.dumps(data.draw(JSONISH)).encode()
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
