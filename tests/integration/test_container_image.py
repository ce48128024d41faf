"""The repository's Dockerfile, built with podman here and run as a replica of a cluster on the harness's
PostgreSQL and Azurite, through the seed's SDK walkthrough (harness/container.py says how the base image is made
without a registry). Marked `container`: `make container-test` runs it; `make test` leaves it out, since the
first build takes about a quarter of an hour (docs/scale.md). A machine without podman skips it with the reason;
under CI=true it fails instead."""
from __future__ import annotations

import uuid

import pytest

from harness.engines import EngineMissing, skip_or_fail
from tests.integration.test_sdk_walkthrough import FOOD, walkthrough

pytestmark = [pytest.mark.container, pytest.mark.slow, pytest.mark.datasets]


@pytest.fixture(scope="module")
def replica(postgres, azurite, tmp_path_factory):
    from harness.container import ContainerReplica, build_base, build_image, check_engine

    log = tmp_path_factory.mktemp("container") / "build.log"
    try:
        check_engine()
        build_base(log)
        build_image(log)
    except EngineMissing as exc:
        skip_or_fail(exc)
    suffix = uuid.uuid4().hex[:12]
    from harness.azurite import ACCOUNT
    running = ContainerReplica(postgres.create_database(f"container_{suffix}"), f"azureblob://{ACCOUNT}/c-{suffix}",
                               azurite.connection_string)
    try:
        running.start()
    except (EngineMissing, RuntimeError) as exc:
        running.remove()
        skip_or_fail(EngineMissing(f"the image does not run here: {exc}"))
    yield running
    running.remove()


@pytest.fixture(scope="module")
def clients(replica):
    from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
    from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
    from msrest.authentication import ApiKeyCredentials

    return (CustomVisionTrainingClient(replica.endpoint, ApiKeyCredentials(
                in_headers={"Training-key": replica.training_key})),
            CustomVisionPredictionClient(replica.endpoint, ApiKeyCredentials(
                in_headers={"Prediction-key": replica.prediction_key})))


def test_the_image_serves_the_sdk_walkthrough_on_postgres_and_azurite(replica, clients, datasets):
    trainer, predictor = clients
    folders = {tag: datasets / "fruit" / tag for tag in ("apple", "banana", "orange")}
    tests = {tag: sorted((datasets / "fruit-extra" / tag).glob("*.jpg"))[:3] for tag in folders}
    walkthrough(trainer, predictor, replica, folders, tests, domain_id=FOOD)


def test_the_image_runs_unprivileged_and_stops_cleanly_on_sigterm(replica):
    from harness.container import _podman

    assert _podman("exec", replica.name, "id", "-u").stdout.strip() == "10001"
    assert replica.stop() == 0, replica.logs()[-800:]
    assert "Shutting down" in replica.logs() or "Finished server process" in replica.logs()
