"""The gateway serves classify-image requests itself (the prediction hot path, cvlocal/serving/classify.py).

The FastAPI routes of the same paths stay in the OpenAPI document; both must answer alike. The app runs
in-process here (Starlette's TestClient speaks ASGI to the real gateway, store, trainer and model), so the
FastAPI app can also be called directly, without the gateway in front.
"""
from __future__ import annotations

import warnings
from types import SimpleNamespace

import pytest

from cvlocal.app import create_app
from cvlocal.settings import Settings
from harness.images import photo
from harness.rest import Rest
from harness.service import PREDICTION_RESOURCE_ID

with warnings.catch_warnings():  # Starlette asks for `httpx2`; its TestClient works the same on the pinned httpx
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

KEYS = SimpleNamespace(training_key="training-key-for-the-endpoint-test", endpoint="http://testserver",
                       prediction_key="prediction-key-for-the-endpoint-test",
                       prediction_resource_id=PREDICTION_RESOURCE_ID)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("classify") / "data", training_key=KEYS.training_key,
                        prediction_key=KEYS.prediction_key, signing_secret=b"s" * 32)
    created = create_app(settings)
    gateway, app = created.asgi, created.api
    reached_fastapi: list[str] = []

    async def recording_app(scope, receive, send):
        if scope["type"] == "http":
            reached_fastapi.append(f"{scope['method']} {scope['path']}")
        await app(scope, receive, send)

    gateway.app = recording_app
    with TestClient(gateway, base_url=KEYS.endpoint) as client:  # runs the lifespan: the trainer starts
        rest = Rest(KEYS)
        rest.http = client
        pid, tags, iid = rest.trained_project()
        r = rest.training("POST", f"/projects/{pid}/iterations/{iid}/publish",
                          params={"publishName": "live", "predictionId": PREDICTION_RESOURCE_ID})
        assert r.status_code == 200, r.text
        yield SimpleNamespace(rest=rest, fastapi=TestClient(app, base_url=KEYS.endpoint), pid=pid, iid=iid,
                              reached_fastapi=reached_fastapi)


def _both(served, path: str, body: bytes, params: dict | None = None):
    """The same request through the gateway (direct endpoint) and straight to the FastAPI route."""
    headers = {"Content-Type": "application/octet-stream"}
    served.reached_fastapi.clear()
    direct = served.rest.prediction("POST", f"/{served.pid}{path}", content=body, params=params, headers=headers)
    assert not [p for p in served.reached_fastapi if "/classify/" in p], served.reached_fastapi
    documented = served.fastapi.post(f"/prediction/{served.pid}{path}", content=body, params=params,
                                     headers=headers)
    return direct, documented


@pytest.mark.parametrize("route", ["/classify/iterations/live/image", "/classify/iterations/live/image/nostore"])
def test_direct_endpoint_and_documented_route_give_the_same_prediction(served, route):
    direct, documented = _both(served, route, photo("red", 101), params={"application": "checkout"})
    assert direct.status_code == documented.status_code == 200, (direct.text, documented.text)
    assert direct.headers["content-type"].startswith("application/json")
    a, b = direct.json(), documented.json()
    assert a["project"] == b["project"] == served.pid and a["iteration"] == b["iteration"] == served.iid
    assert a["id"] != b["id"] and a["created"].endswith("Z")
    assert [p["tagName"] for p in a["predictions"]] == [p["tagName"] for p in b["predictions"]]
    assert a["predictions"][0]["tagName"] == "red"
    for p, q in zip(a["predictions"], b["predictions"]):
        assert p["probability"] == pytest.approx(q["probability"], abs=1e-6)
        assert set(p) == set(q) == {"probability", "tagId", "tagName", "tagType", "boundingBox"}


@pytest.mark.parametrize("route, body, status, code", [
    ("/classify/iterations/live/image", b"not an image at all", 400, "BadRequestImageFormat"),
    ("/classify/iterations/live/image", b"", 400, "BadRequestImageStream"),
    ("/classify/iterations/nobody/image", photo("blue", 1), 404, "NotFound"),
])
def test_direct_endpoint_and_documented_route_refuse_alike(served, route, body, status, code):
    direct, documented = _both(served, route, body)
    assert direct.status_code == documented.status_code == status, (direct.text, documented.text)
    assert direct.json() == documented.json()
    assert direct.json()["code"] == code


def test_other_methods_and_routes_still_reach_fastapi(served):
    served.reached_fastapi.clear()
    r = served.rest.prediction("GET", f"/{served.pid}/classify/iterations/live/image")
    assert r.status_code == 405 and r.json()["code"] == "BadRequestNotSupported"
    r = served.rest.prediction("POST", f"/{served.pid}/classify/iterations/live/url",
                               json={"url": "http://127.0.0.1:9/x.jpg"})
    assert r.status_code == 400
    assert served.reached_fastapi == [f"GET /prediction/{served.pid}/classify/iterations/live/image",
                                      f"POST /prediction/{served.pid}/classify/iterations/live/url"]
