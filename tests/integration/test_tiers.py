"""`cvlocal serve --tier F0`: each quota refused at its number with Custom Vision's code, through the official SDK;
request rates per key answered 429 with Retry-After and Azure's body past the rate, and recovered from; and
`--tier unlimited` (the default) enforcing none of it."""
from __future__ import annotations

import hashlib
import io
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (CustomVisionErrorException,
                                                                          ImageFileCreateBatch,
                                                                          ImageFileCreateEntry)
from msrest.authentication import ApiKeyCredentials
from PIL import Image

from harness.images import photo
from harness.rest import Rest
from harness.service import PREDICTION_ROOT, TRAINING_ROOT, RunningService
from pipeline.config.model import ServiceConfig
from pipeline.sdk.clients import training_client

F0_IMAGES = 5000
GENERAL = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31"  # the General (classification) domain


@pytest.fixture(scope="module")
def f0(tmp_path_factory) -> RunningService:
    with RunningService(tmp_path_factory.mktemp("cvlocal-f0") / "data", tier="F0") as service:
        yield service


@pytest.fixture
def sdk(f0):
    """The official SDK behind the pipeline's retries, so the test's own calls wait out the F0 rates (a quota
    refusal is a 400: never retried)."""
    trainer = training_client(ServiceConfig(training_endpoint=f0.endpoint, training_key=f0.training_key))
    yield trainer
    for project in trainer.get_projects():  # each test starts with F0's two projects free
        trainer.delete_project(project.id)


def _refused(call) -> CustomVisionErrorException:
    with pytest.raises(CustomVisionErrorException) as caught:
        call()
    return caught.value


def _tiny_png(n: int) -> bytes:
    """An 8x8 PNG that differs from every other n (Azure upscales small images; cvlocal takes them as they are)."""
    image = Image.new("RGB", (8, 8), (n % 256, n // 256 % 256, n // 65536 % 256))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _burst(call, count: int) -> tuple[list[httpx.Response], float]:
    """`count` requests at once; (their answers, seconds from the first sent to the last answered)."""
    started = time.monotonic()
    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(lambda _: call(), range(count)))
    return answers, time.monotonic() - started


def test_f0_allows_two_projects_even_to_concurrent_creates(f0, sdk):
    sdk.create_project(f"one {uuid.uuid4().hex[:6]}")
    second = sdk.create_project(f"two {uuid.uuid4().hex[:6]}")
    error = _refused(lambda: sdk.create_project("three"))
    assert error.response.status_code == 400 and error.error.code == "BadRequestExceedProjectLimit"
    assert "allows 2 projects" in error.error.message
    sdk.delete_project(second.id)
    sdk.create_project("three")  # room again
    for project in sdk.get_projects():
        sdk.delete_project(project.id)

    with httpx.Client(base_url=f0.endpoint, timeout=60) as http:
        time.sleep(1.0)  # a full bucket: the eight creates below are answered by the quota, not the rate
        answers, _ = _burst(lambda: http.post(TRAINING_ROOT + "/projects", headers={"Training-Key": f0.training_key},
                                              params={"name": f"race {uuid.uuid4().hex}"}), 8)
    codes = sorted(a.json()["code"] for a in answers if a.status_code == 400)
    assert sum(a.status_code == 200 for a in answers) == 2 and codes == ["BadRequestExceedProjectLimit"] * 6
    assert len(sdk.get_projects()) == 2


@pytest.fixture(scope="module")
def f0_seeded(tmp_path_factory):
    """An F0 service whose data already holds a project of 48 tags and a project of 18 trained iterations (two tags,
    five photos each), recorded through the store before it starts, so the tests make only the last ones allowed
    through the SDK before the quota: all 50 tags and 20 trainings made at F0's rates took about a minute."""
    from cvlocal.model.evaluation import HeldOut
    from cvlocal.model.head import Head
    from cvlocal.model.training_types import REGULAR
    from cvlocal.store import SqliteStore
    from cvlocal.store.records import NewImage
    from cvlocal.tiers import tier_named

    f0_tier = tier_named("F0")
    folder = tmp_path_factory.mktemp("cvlocal-f0-seeded") / "data"
    store = SqliteStore(folder)
    tags = store.create_project("tags", "", GENERAL, "Multiclass", ())
    for n in range(f0_tier.tags_per_project - 2):
        store.create_tag(tags.id, f"tag {n}", None, "Regular")
    trained = store.create_project("iterations", "", GENERAL, "Multiclass", ())
    for colour in ("red", "blue"):
        tag = store.create_tag(trained.id, colour, None, "Regular")
        store.add_images(trained.id, [NewImage(store.blobs.put(image), 96, 72, len(image), (tag.id,))
                                      for image in (photo(colour, i) for i in range(5))], None)
    # What a finished training stores: a head (here one that knows nothing) and its held-out evaluation.
    labels = np.eye(2, dtype=bool)[[0] * 5 + [1] * 5]
    head = store.blobs.put(Head(np.zeros((1280, 2), np.float32), np.zeros(2, np.float32), False,
                                 REGULAR.inputs, resize=REGULAR.resize).to_bytes())
    held_out = store.blobs.put(HeldOut(np.full((10, 2), 0.5, np.float32), labels, np.arange(10) % 5).to_bytes())
    for _ in range(f0_tier.iterations_per_project - 2):
        iteration = store.create_iteration(trained, store.training_set(trained.id, None), "Regular", 0, True, None)
        assert store.finish_training(iteration.id, head, held_out, 1.0, {})
    store.close()
    with RunningService(folder, tier="F0") as service:
        yield service, tags.id, trained.id


def test_f0_allows_fifty_tags_a_project(f0_seeded):
    service, pid, _ = f0_seeded
    sdk = training_client(ServiceConfig(training_endpoint=service.endpoint, training_key=service.training_key))
    assert len(sdk.get_tags(pid)) == 48
    sdk.create_tag(pid, "tag 48")
    sdk.create_tag(pid, "tag 49")
    error = _refused(lambda: sdk.create_tag(pid, "tag 50"))
    assert error.response.status_code == 400 and error.error.code == "BadRequestExceedTagPerProjectLimit"
    assert len(sdk.get_tags(pid)) == 50


@pytest.fixture
def f0_nearly_full(tmp_path):
    """An F0 service whose one project already holds 4,998 images, recorded through the store before it starts
    (uploading them takes minutes, mostly fsyncs; their bytes are never read here)."""
    from cvlocal.store import SqliteStore
    from cvlocal.store.records import NewImage

    store = SqliteStore(tmp_path / "data")
    project = store.create_project("nearly full", "", GENERAL, "Multiclass", ())
    tag = store.create_tag(project.id, "tiny", None, "Regular")
    store.add_images(project.id, [NewImage(hashlib.sha256(_tiny_png(n)).hexdigest(), 8, 8, 1, (tag.id,))
                                  for n in range(F0_IMAGES - 2)], None)
    store.close()
    with RunningService(tmp_path / "data", tier="F0") as service:
        yield service, project.id, tag.id


def test_f0_allows_five_thousand_images_a_project_and_says_so_per_image(f0_nearly_full):
    service, pid, tag_id = f0_nearly_full
    sdk = training_client(ServiceConfig(training_endpoint=service.endpoint, training_key=service.training_key))
    assert sdk.get_image_count(pid) == F0_IMAGES - 2
    # of these four, the duplicate needs no room, two fit, the last is over the quota
    summary = sdk.create_images_from_files(pid, ImageFileCreateBatch(images=[
        ImageFileCreateEntry(name=f"{n}.png", contents=_tiny_png(n), tag_ids=[tag_id])
        for n in (0, F0_IMAGES - 2, F0_IMAGES - 1, F0_IMAGES)]))
    assert not summary.is_batch_successful
    assert [i.status for i in summary.images] == ["OKDuplicate", "OK", "OK", "ErrorLimitExceed"]
    assert summary.images[3].image is None
    assert sdk.get_image_count(pid) == F0_IMAGES
    again = sdk.create_images_from_data(pid, _tiny_png(F0_IMAGES + 1), tag_ids=[tag_id])
    assert [i.status for i in again.images] == ["ErrorLimitExceed"]
    sdk.delete_images(pid, image_ids=[summary.images[1].image.id])
    assert [i.status for i in sdk.create_images_from_data(pid, _tiny_png(F0_IMAGES + 1)).images] == ["OK"]


def test_f0_keeps_twenty_iterations(f0_seeded):
    service, _, pid = f0_seeded
    sdk = training_client(ServiceConfig(training_endpoint=service.endpoint, training_key=service.training_key))
    assert len(sdk.get_iterations(pid)) == 18
    for _ in range(2):  # trained for real, on the photos recorded above
        iteration = sdk.train_project(pid, force_train=True)
        while (iteration := sdk.get_iteration(pid, iteration.id)).status == "Training":
            time.sleep(0.2)
        assert iteration.status == "Completed"
    error = _refused(lambda: sdk.train_project(pid, force_train=True))
    assert error.response.status_code == 400 and error.error.code == "BadRequestExceedIterationPerProjectLimit"
    assert len(sdk.get_iterations(pid)) == 20


def test_past_the_rate_calls_are_answered_429_with_retry_after_then_recover(f0):
    rest = Rest(f0)
    pid = rest.project()
    time.sleep(1.0)
    answers, seconds = _burst(lambda: rest.training("GET", "/domains"), 40)
    admitted = sum(a.status_code == 200 for a in answers)
    refused = [a for a in answers if a.status_code == 429]
    assert admitted + len(refused) == 40 and refused
    assert admitted <= 10 + 10 * seconds + 1  # a second's worth at once, then 10 a second
    for answer in refused:
        assert int(answer.headers["Retry-After"]) >= 1
        error = answer.json()["error"]
        assert error["code"] == "429" and error["message"].startswith(
            "Requests to the GetDomains Operation under Custom_Vision_Training_3.4-preview have exceeded "
            "rate limit of your current Custom_Vision.Training F0 pricing tier. Please retry after")

    # TrainProject has a bucket of its own (2 a second on F0): the empty bucket of other calls takes nothing
    answers, seconds = _burst(lambda: rest.training("POST", f"/projects/{pid}/train"), 8)
    validated = [a for a in answers if a.status_code == 400]  # passed the rate: too few images to train
    assert validated and len(validated) <= 2 + 2 * seconds + 1
    assert all(a.status_code in (400, 429) for a in answers)
    assert any("TrainProject Operation" in a.json()["error"]["message"] for a in answers if a.status_code == 429)

    # The official SDK, on a POST (on a GET, urllib3 itself waits out a 429 with Retry-After, up to 3 times):
    # CustomVisionErrorException without a code (Azure's shape), with the status and the header
    plain = CustomVisionTrainingClient(f0.endpoint, ApiKeyCredentials(in_headers={"Training-key": f0.training_key}))
    errors, _ = _burst(lambda: _refused(lambda: plain.train_project(pid)), 8)
    assert {e.error.code for e in errors if e.response.status_code == 400} <= {"BadRequestTrainingValidationFailed"}
    error = next(e for e in errors if e.response.status_code == 429)
    assert error.error.code is None and "TrainProject Operation" in error.response.json()["error"]["message"]
    time.sleep(int(error.response.headers["Retry-After"]))
    assert _refused(lambda: plain.train_project(pid)).response.status_code == 400  # recovered
    assert rest.training("DELETE", f"/projects/{pid}").status_code == 204


def test_prediction_calls_count_on_the_prediction_key(f0):
    with httpx.Client(base_url=f0.endpoint, timeout=60) as http:
        time.sleep(1.0)
        while http.get(TRAINING_ROOT + "/domains", headers={"Training-Key": f0.training_key}).status_code != 429:
            pass  # the training key has used its second's worth
        url = PREDICTION_ROOT + f"/{uuid.uuid4()}/classify/iterations/live/image"
        image = photo("red", 1)
        first = http.post(url, headers={"Prediction-Key": f0.prediction_key}, content=image)
        assert first.status_code == 404  # the training key's calls took nothing from the prediction key's
        answers, seconds = _burst(lambda: http.post(url, headers={"Prediction-Key": f0.prediction_key},
                                                    content=image), 12)
        refused = [a for a in answers if a.status_code == 429]
        assert refused and sum(a.status_code == 404 for a in answers) <= 2 + 2 * seconds + 1
        assert "ClassifyImage Operation under Custom_Vision_Prediction_3.1 have exceeded rate limit of your " \
               "current Custom_Vision.Prediction F0 pricing tier" in refused[0].json()["error"]["message"]


def test_unlimited_enforces_no_quota_and_no_rate(cvlocal_service):
    rest = Rest(cvlocal_service)
    projects = [rest.project() for _ in range(3)]
    assert all(rest.tag(projects[0], f"tag {n}") for n in range(51))
    answers, _ = _burst(lambda: rest.http.get(TRAINING_ROOT + "/domains",
                                              headers={"Training-Key": cvlocal_service.training_key}), 60)
    assert [a.status_code for a in answers] == [200] * 60
    for pid in projects:
        assert rest.training("DELETE", f"/projects/{pid}").status_code == 204


def test_the_benchs_counting_proxy_counts_what_went_over_the_wire(f0):
    from bench.limits import by_kind
    from cvlocal.tiers.limiter import OTHER, PREDICT_NO_STORE
    from harness.counting_proxy import CountingProxy

    with CountingProxy(f0.endpoint) as proxy, httpx.Client(base_url=proxy.endpoint, timeout=60) as http:
        time.sleep(1.0)
        answers, _ = _burst(lambda: http.get(TRAINING_ROOT + "/domains", headers={"Training-Key": f0.training_key}),
                            15)
        statuses = [a.status_code for a in answers]
        assert all(int(a.headers["Retry-After"]) >= 1 for a in answers if a.status_code == 429)  # passed through
        nostore = http.post(PREDICTION_ROOT + f"/{uuid.uuid4()}/classify/iterations/x/image/nostore",
                            headers={"Prediction-Key": f0.prediction_key}, content=photo("red", 2))
        assert nostore.status_code == 404  # no such project: it passed the rate
        counted = by_kind(proxy.reset())
    assert counted == {(OTHER, 200): statuses.count(200), (OTHER, 429): statuses.count(429),
                       (PREDICT_NO_STORE, 404): 1}
    assert statuses.count(429) > 0 and not proxy.answered and not proxy.counts
