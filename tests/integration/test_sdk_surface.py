"""The whole surface of the official SDK: every operation its training and prediction clients define, found in
the SDK's own operations modules (so one a later SDK adds cannot hide), called against the service with
arguments of the right shape. Each must reach an operation: it may succeed or answer a Custom Vision error
(object detection's refuse until detection lands), but never routing's "No route" 404 nor a 405, and never a
server error. docs/self-hosted.md must list every one of them."""
from __future__ import annotations

import inspect
import re
import uuid
from pathlib import Path

from azure.cognitiveservices.vision.customvision.prediction.operations import \
    _custom_vision_prediction_client_operations as prediction_operations
from azure.cognitiveservices.vision.customvision.training.models import (
    ImageFileCreateBatch, ImageFileCreateEntry, ImageIdCreateBatch, ImageIdCreateEntry, ImageUrlCreateBatch,
    ImageUrlCreateEntry, PredictionQueryToken, Project, ProjectSettings, SuggestedTagAndRegionQueryToken, Tag)
from azure.cognitiveservices.vision.customvision.training.operations import \
    _custom_vision_training_client_operations as training_operations
from msrest.exceptions import HttpOperationError

from cvlocal.errors import NO_ROUTE
from harness.images import photo
from harness.service import PREDICTION_RESOURCE_ID

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "self-hosted.md"
UNREACHABLE = "http://127.0.0.1:9/image.jpg"  # the discard port: refused at once
# The last to run: it deletes the project every other call uses.
LAST = "delete_project"


def operations(module) -> dict[str, tuple[str, str]]:
    """{operation: (HTTP method, path template)} of an SDK operations module, read from the SDK's own code."""
    found = {}
    for name, cls in inspect.getmembers(module, inspect.isclass):
        if not name.endswith("OperationsMixin"):
            continue
        for op, function in inspect.getmembers(cls, inspect.isfunction):
            if op.startswith("_") or "url" not in getattr(function, "metadata", {}):
                continue
            method = re.search(r"self\._client\.(get|post|put|patch|delete)\(", inspect.getsource(function))
            found[op] = (method.group(1).upper(), function.metadata["url"])
    return found


def required(client, op: str) -> list[str]:
    parameters = inspect.signature(getattr(client, op)).parameters.values()
    return [p.name for p in parameters if p.default is p.empty and p.kind is not p.VAR_KEYWORD]


def arguments(project_id: str, op: str) -> dict[str, object]:
    """A value of the right shape for every parameter an SDK operation requires (ids that name nothing are
    fine: the service answers NotFound*, which proves the route)."""
    unknown = str(uuid.uuid4())
    batches = {
        "create_images_from_files": ImageFileCreateBatch(images=[ImageFileCreateEntry(name="a.jpg",
                                                                                      contents=photo("red", 1))]),
        "create_images_from_urls": ImageUrlCreateBatch(images=[ImageUrlCreateEntry(url=UNREACHABLE)]),
        "create_images_from_predictions": ImageIdCreateBatch(images=[ImageIdCreateEntry(id=unknown)]),
    }
    queries = {"query_predictions": PredictionQueryToken(order_by="Newest"),
               "query_suggested_images": SuggestedTagAndRegionQueryToken(max_count=1)}
    return {
        "project_id": project_id, "iteration_id": unknown, "tag_id": unknown, "image_id": unknown,
        "domain_id": "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31", "image_ids": [unknown], "tag_ids": [unknown],
        "region_ids": [unknown], "ids": [unknown], "name": f"surface {unknown[:8]}", "image_data": photo("blue", 2),
        "url": UNREACHABLE, "published_name": "surface", "publish_name": "surface",
        "prediction_id": PREDICTION_RESOURCE_ID, "platform": "ONNX", "token": "not-a-token",
        "path": f"images/{unknown}/original", "metadata": {"camera": "a"},
        "updated_project": Project(name=f"surface renamed {unknown[:8]}", description="", settings=ProjectSettings()),
        "updated_tag": Tag(name="renamed", description="", type="Regular"),
        "batch": batches.get(op), "query": queries.get(op),
    }


def test_every_operation_of_both_sdk_clients_is_routed(trainer, predictor):
    surface = {**{op: (trainer, route) for op, route in operations(training_operations).items()},
               **{op: (predictor, route) for op, route in operations(prediction_operations).items()}}
    assert len(surface) == 60, sorted(surface)  # SDK 3.1.1: 52 training and 8 prediction operations
    project_id = trainer.create_project(f"surface {uuid.uuid4().hex[:8]}").id
    answers, missing = {}, {}
    for op in sorted(surface, key=lambda o: o == LAST):
        client, (method, path) = surface[op]
        given = arguments(project_id, op)
        lacking = [p for p in required(client, op) if given.get(p) is None]
        if lacking:
            missing[op] = lacking
            continue
        try:
            result = getattr(client, op)(**{p: given[p] for p in required(client, op)})
            if inspect.isgenerator(result):  # get_artifact streams
                b"".join(result)
            answers[op] = (200, "ok", "")
        except HttpOperationError as exc:  # CustomVisionErrorException is one too
            body = exc.response.json()
            answers[op] = (exc.response.status_code, body.get("code", ""), body.get("message", ""))
    assert not missing, f"give the surface test arguments for: {missing}"
    unrouted = {op: a for op, a in answers.items() if a[0] == 405 or (a[0] == 404 and a[2].startswith(NO_ROUTE))}
    assert not unrouted, f"operations with no route: {unrouted}"
    failed = {op: a for op, a in answers.items() if a[0] >= 500 or not a[1]}
    assert not failed, f"operations answered with a server error or without a Custom Vision code: {failed}"
    print("\n" + "\n".join(f"{op:40} {status} {code}" for op, (status, code, _) in sorted(answers.items())))


def test_the_self_hosted_guide_lists_every_operation():
    listed = set(re.findall(r"^\| `([a-z_]+)` \|", GUIDE.read_text(), re.MULTILINE))
    surface = set(operations(training_operations)) | set(operations(prediction_operations))
    assert surface <= listed, f"docs/self-hosted.md does not list: {sorted(surface - listed)}"
