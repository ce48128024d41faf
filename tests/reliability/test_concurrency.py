"""Concurrency: two `cvops run`s of one config at once end with one project, one set of tags, each image once and
one published iteration; moving a published name never leaves prediction clients without a model."""
from __future__ import annotations

import json
import threading
import time

import pytest

from harness.images import photo
from harness.pipeline import Background
from harness.rest import Rest
from pipeline.config import ServiceConfig
from pipeline.sdk.clients import training_client
from pipeline.steps.publish import publish, published_under
from tests.reliability.helpers import PROJECT, PUBLISH, configs, end_state, probes

pytestmark = [pytest.mark.slow]


@pytest.mark.datasets
def test_two_runs_of_one_config_at_once_end_as_one_clean_run(fresh_service, datasets, tmp_path, clean_end_states):
    service = fresh_service.start()
    env = {**service.environment(), "CVOPS_DATASETS": str(datasets)}
    config = configs(tmp_path, datasets)["fruit"]
    runs = []
    for name in ("a", "b"):  # each its own working folder, so each writes its own report
        (tmp_path / name).mkdir()
        runs.append(Background("run", str(config), env=env, cwd=tmp_path / name))
    codes = [run.finish() for run in runs]
    assert codes == [0, 0], [run.output for run in runs]
    state = end_state(service, PROJECT, PUBLISH, probes(datasets))
    assert state.same_as(clean_end_states["fruit"]), (state, clean_end_states["fruit"])
    assert state.project_count == 1 and state.tags == ["apple", "banana", "orange"]
    assert state.statuses == ["Completed"]  # the second run waited for, or reused, the first run's training
    reports = [json.loads((tmp_path / name / "out" / "report.json").read_text()) for name in ("a", "b")]
    assert sorted(r["project_created"] for r in reports) in ([False, True], [False, False])
    assert {r["training"]["iteration"] for r in reports} == {"Iteration 1"}
    assert {r["outcome"] for r in reports} <= {"published", "up-to-date"}


def test_moving_the_published_name_never_leaves_it_unpublished(cvlocal_service):
    """Four clients predict through the name while it moves 30 times (unpublish-then-publish gave ~40% 404s)."""
    rest = Rest(cvlocal_service)
    pid, tags, first = rest.trained_project()
    assert rest.upload(pid, tags["red"], [photo("red", 100 + i) for i in range(3)]).status_code == 200
    second = rest.train(pid)
    trainer = training_client(ServiceConfig(training_endpoint=cvlocal_service.endpoint,
                                            training_key=cvlocal_service.training_key))
    iterations = {i.id: i for i in trainer.get_iterations(pid)}
    answers: list[int] = []
    stop = threading.Event()

    def predict():
        client, image = Rest(cvlocal_service), photo("blue", 7)
        while not stop.is_set() and len(answers) < 5000:
            answers.append(client.prediction("POST", f"/{pid}/classify/iterations/moving/image/nostore",
                                             content=image, headers={"Content-Type": "application/octet-stream"})
                           .status_code)

    publish(trainer, pid, iterations[first], "moving", cvlocal_service.prediction_resource_id, None)
    clients = [threading.Thread(target=predict) for _ in range(4)]
    for client in clients:
        client.start()
    try:
        n = 0  # at least 30 moves, and on a loaded machine more, until the clients have predicted 30 times
        while n < 30 or n % 2 or (len(answers) <= 30 and n < 300):
            target, previous = (second, first) if n % 2 == 0 else (first, second)
            publish(trainer, pid, iterations[target], "moving", cvlocal_service.prediction_resource_id,
                    iterations[previous])
            time.sleep(0.02)
            n += 1
        assert published_under(trainer.get_iterations(pid), "moving").id == first
    finally:
        stop.set()
        for client in clients:
            client.join(30)
    assert len(answers) > 30 and set(answers) == {200}, {code: answers.count(code) for code in set(answers)}
