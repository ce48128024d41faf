"""Faults: a full `cvops run` under injected throttling, outages, latency, dropped connections and lost answers
ends as a clean run does; kill -9 of the service during upload, training and publish, then a restart and a
rerun, ends the same too, with nothing uploaded twice, nothing stuck in Training and an intact database."""
from __future__ import annotations

import http.client
import json

import pytest

from cvlocal.gateway.faults import parse_faults
from tests.pipeline.cvops_helpers import cvops
from tests.reliability.conftest import PROJECT, PUBLISH, configs
from tests.reliability.helpers import Background, end_state, integrity, probes, wait_until
from tests.support.rest import Rest
from tests.support.service import TRAINING_ROOT

# Retry-After: 0 keeps the run short; waiting as long as the service asks is tested in tests/pipeline.
FAULTS = "429=0.1,503=0.05,drop=0.05,lost=0.1,latency=0.1:0.2,retry-after=0,seed=7"


def test_fault_specs_parse_and_bad_ones_are_refused():
    faults = parse_faults("429=0.2, 503=0.1,drop=0.05,lost=0.05,latency=0.3:0.5,retry-after=0,train-delay=2,seed=4")
    assert (faults.throttle, faults.unavailable, faults.drop, faults.lost) == (0.2, 0.1, 0.05, 0.05)
    assert (faults.latency, faults.latency_s, faults.retry_after_s, faults.train_delay_s) == (0.3, 0.5, 0, 2.0)
    assert faults.active and not parse_faults("train-delay=1").active and not parse_faults(None).active
    rolls = [parse_faults("drop=0.25,lost=0.25,429=0.25,seed=9").roll() for _ in range(2)]
    again = parse_faults("drop=0.25,lost=0.25,429=0.25,seed=9")
    assert rolls[0] == rolls[1] == again.roll()  # a seed repeats the sequence
    for bad in ("429=2", "drop=-0.1", "lost=x", "latency=0.5:inf", "teapot=1", "429=0.6,503=0.6", "seed=x",
                "retry-after=-1", "train-delay=nan"):
        with pytest.raises(ValueError):
            parse_faults(bad)


@pytest.mark.slow
def test_drop_and_lost_faults_close_the_connection_without_an_answer(fresh_service):
    fresh_service.extra_args = ["--faults", "drop=0.3,lost=0.3,seed=3"]
    service = fresh_service.start()
    rest = Rest(service)
    pid = None
    for _ in range(50):  # create the project, whatever the faults do
        try:
            pid = rest.project()
            break
        except Exception:  # noqa: BLE001 - no answer: maybe created, maybe not; a new name either way
            pass
    assert pid is not None
    outcomes = {"answered": 0, "dropped": 0, "lost": 0}
    for n in range(40):
        name = f"tag {n}"
        connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
        try:
            connection.request("POST", f"{TRAINING_ROOT}/projects/{pid}/tags?name=tag%20{n}",
                               headers={"Training-Key": service.training_key})
            response = connection.getresponse()
            assert response.status == 200, (response.status, response.read())  # never a 500 or a partial answer
            outcomes["answered"] += 1
            continue
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            pass
        finally:
            connection.close()
        # No answer: `lost` did the work, `drop` did not; the same call again is safe either way.
        names = None
        for _ in range(50):
            try:
                names = {t["name"] for t in rest.training("GET", f"/projects/{pid}/tags").json()}
                break
            except Exception:  # noqa: BLE001 - dropped too
                continue
        assert names is not None
        outcomes["lost" if name in names else "dropped"] += 1
    assert all(outcomes.values()), outcomes
    assert "ASGI callable returned without" not in service.log()
    assert "injected fault lost" in service.log() and "injected fault drop" in service.log()


@pytest.mark.datasets
@pytest.mark.slow
def test_a_pipeline_run_under_injected_faults_ends_as_a_clean_run(fresh_service, datasets, tmp_path,
                                                                  clean_end_states):
    fresh_service.extra_args = ["--faults", FAULTS]
    service = fresh_service.start()
    env = {**service.environment(), "CVOPS_DATASETS": str(datasets)}
    config = configs(tmp_path, datasets)["fruit"]
    first = cvops("run", str(config), "--verbose", env=env, cwd=tmp_path)
    assert first.exit_code == 0, first.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["outcome"] == "published" and report["retries"] > 0
    assert report["uploads"]["uploaded"] + report["uploads"]["duplicates"] == 45
    for what in ("HTTP 429", "HTTP 503", "ClientRequestError"):  # throttled, unavailable, no answer
        assert what in first.stderr, what
    state = end_state(service, PROJECT, PUBLISH, probes(datasets))
    assert state.same_as(clean_end_states["fruit"]), (state, clean_end_states["fruit"])
    assert state.statuses == ["Completed"]  # a retried train call did not train twice

    again = cvops("run", str(config), env=env, cwd=tmp_path)
    assert again.exit_code == 0, again.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["outcome"] == "up-to-date" and report["uploads"]["uploaded"] == 0
    assert end_state(service, PROJECT, PUBLISH, probes(datasets)).same_as(clean_end_states["fruit"])
    print(f"\nfaulted run: {first.seconds:.1f} s, {report['retries']} retries on the rerun")


def _count(rest: Rest, path: str) -> int:
    projects = [p for p in rest.training("GET", "/projects").json() if p["name"] == PROJECT]
    return rest.training("GET", f"/projects/{projects[0]['id']}{path}").json() if projects else 0


def _training(rest: Rest) -> bool:
    projects = [p for p in rest.training("GET", "/projects").json() if p["name"] == PROJECT]
    return bool(projects) and any(i["status"] == "Training" for i in rest.training(
        "GET", f"/projects/{projects[0]['id']}/iterations").json())


def _crash_and_restart(service) -> None:
    service.kill()
    assert integrity(service) == "ok"
    service.start()


@pytest.mark.datasets
@pytest.mark.slow
def test_kill_9_during_upload_training_and_publish_then_rerun_ends_as_a_clean_run(fresh_service, datasets, tmp_path,
                                                                                   clean_end_states):
    # Trainings take at least 1.5 s here, so the kill lands while the iteration is Training.
    fresh_service.extra_args = ["--faults", "train-delay=1.5"]
    service = fresh_service.start()
    env = {**service.environment(), "CVOPS_DATASETS": str(datasets)}
    paths = configs(tmp_path, datasets)
    rest = Rest(service)
    outputs = []

    # 1. upload (batches of 8): killed once the first batch is in
    run = Background("run", str(paths["fruit"]), env=env, cwd=tmp_path)
    assert wait_until(lambda: _count(rest, "/images/count") >= 8), run.output
    _crash_and_restart(service)
    assert run.finish() == 0, run.output  # the run in flight rides through: its retries wait for the restart
    rerun = cvops("run", str(paths["fruit"]), env=env, cwd=tmp_path)
    assert rerun.exit_code == 0, rerun.output
    outputs += [run.output, rerun.output]
    assert end_state(service, PROJECT, PUBLISH, probes(datasets)).same_as(clean_end_states["fruit"])

    # 2. training: 6 more images, killed while the new iteration trains; it ends Failed, not Training
    run = Background("run", str(paths["plus"]), env=env, cwd=tmp_path)
    assert wait_until(lambda: _training(rest)), run.output
    _crash_and_restart(service)
    assert run.finish() != 0, run.output  # the iteration it waited for failed
    assert "The service stopped while this iteration was training" in run.output
    outputs.append(run.output)
    assert not _training(rest)

    # 3. publish: the rerun trains again and is killed as it publishes; it rides through, a second rerun is a no-op
    run = Background("run", str(paths["plus"]), env=env, cwd=tmp_path)
    assert run.wait_for_line("gate pass: smoke test orange8.jpg"), run.output
    _crash_and_restart(service)
    assert run.finish() == 0, run.output
    rerun = cvops("run", str(paths["plus"]), env=env, cwd=tmp_path)
    assert rerun.exit_code == 0, rerun.output
    outputs += [run.output, rerun.output]

    state = end_state(service, PROJECT, PUBLISH, probes(datasets))
    assert state.same_as(clean_end_states["plus"]), (state, clean_end_states["plus"])
    assert "Training" not in state.statuses and state.statuses.count("Failed") == 1
    assert len(state.images) == len(set(state.images)) == 51  # nothing uploaded twice
    assert integrity(service) == "ok"
    assert all(service.training_key not in text and service.prediction_key not in text for text in outputs)
