"""Key 1 and key 2, rotated on a running service as a team would: clients on the other key never see a failure,
the regenerated key works and the old one stops working within seconds, no restart, no key in any log."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from msrest.authentication import ApiKeyCredentials
from msrest.exceptions import HttpOperationError

from harness.images import photo
from harness.rest import Rest
from harness.service import RunningService

pytestmark = pytest.mark.slow
TRAINING_1, PREDICTION_1 = "trainingkey1" + "0" * 20, "predictionkey1" + "0" * 18


class KeysInDataDir(RunningService):
    """A service that reads its keys from DATA_DIR/keys.json (no --training-key / --prediction-key)."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "cvlocal", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--data-dir", str(self.data_dir)]


def cvlocal(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "cvlocal", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _trainer(service, key: str) -> CustomVisionTrainingClient:
    return CustomVisionTrainingClient(service.endpoint, ApiKeyCredentials(in_headers={"Training-key": key}))


def _predictor(service, key: str) -> CustomVisionPredictionClient:
    return CustomVisionPredictionClient(service.endpoint, ApiKeyCredentials(in_headers={"Prediction-key": key}))


def _status(call) -> int:
    try:
        call()
        return 200
    except HttpOperationError as exc:
        return exc.response.status_code


def _until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the running service did not pick up the regenerated key"
        time.sleep(0.1)


class Client(threading.Thread):
    """Calls the service with one key in a loop, counting the calls that did not succeed."""

    def __init__(self, call):
        super().__init__(daemon=True)
        self.call, self.calls, self.failures, self.done = call, 0, [], threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            status = _status(self.call)
            self.calls += 1
            if status != 200:
                self.failures.append(status)

    def stop(self) -> "Client":
        self.done.set()
        self.join(30)
        return self


def test_keys_rotate_on_a_running_service_without_a_failed_request(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # a keys.json of the first version (one key of each kind): the service keeps them as key 1 and adds key 2
    (data_dir / "keys.json").write_text(json.dumps({"trainingKey": TRAINING_1, "predictionKey": PREDICTION_1,
                                                    "signingSecret": "ab" * 32}))
    service = KeysInDataDir(data_dir, training_key=TRAINING_1, prediction_key=PREDICTION_1)
    with service:
        rest = Rest(service)
        pid, _, iid = rest.trained_project()
        publish = rest.training("POST", f"/projects/{pid}/iterations/{iid}/publish",
                                params={"publishName": "live", "predictionId": service.prediction_resource_id})
        assert publish.status_code == 200, publish.text
        image = photo("red", 99)
        training_2 = cvlocal("keys", "show", "--data-dir", str(data_dir), "--kind", "training", "--key", "2",
                             "--values").strip()
        prediction_2 = cvlocal("keys", "show", "--data-dir", str(data_dir), "--kind", "prediction", "--key", "2",
                               "--values").strip()
        assert len(training_2) == 32 and training_2 != TRAINING_1
        shown = cvlocal("keys", "show", "--data-dir", str(data_dir))
        assert "training key 2" in shown and "keys.json" in shown
        assert not any(k in shown for k in (TRAINING_1, PREDICTION_1, training_2, prediction_2))
        assert _status(lambda: _trainer(service, training_2).get_projects()) == 200

        # training: clients move to key 2; key 1 is regenerated while they keep calling
        on_key_2 = Client(lambda: _trainer(service, training_2).get_project(pid))
        on_key_2.start()
        cvlocal("keys", "regenerate", "--data-dir", str(data_dir), "--kind", "training", "--key", "1")
        new_training_1 = cvlocal("keys", "show", "--data-dir", str(data_dir), "--kind", "training", "--key", "1",
                                 "--values").strip()
        _until(lambda: _status(lambda: _trainer(service, TRAINING_1).get_projects()) == 401)
        assert _status(lambda: _trainer(service, new_training_1).get_projects()) == 200
        assert new_training_1 != TRAINING_1 and len(new_training_1) == 32
        # prediction: the same with key 2 regenerated while clients predict with key 1
        on_key_1 = Client(lambda: _predictor(service, PREDICTION_1).classify_image(pid, "live", image))
        on_key_1.start()
        old_prediction_2 = prediction_2
        cvlocal("keys", "regenerate", "--data-dir", str(data_dir), "--kind", "prediction", "--key", "2")
        _until(lambda: _status(lambda: _predictor(service, old_prediction_2).classify_image(pid, "live", image))
               == 401)
        new_prediction_2 = cvlocal("keys", "show", "--data-dir", str(data_dir), "--kind", "prediction", "--key", "2",
                                   "--values").strip()
        assert _status(lambda: _predictor(service, new_prediction_2).classify_image(pid, "live", image)) == 200
        time.sleep(1.5)  # the clients keep going past the switch
        for client in (on_key_2.stop(), on_key_1.stop()):
            assert client.calls > 0 and client.failures == []
        # a prediction key is still no training key, whichever one it is
        assert _status(lambda: _trainer(service, new_prediction_2).get_projects()) == 401
        assert service.process.poll() is None  # never restarted
    log = service.log()
    every_key = json.loads((data_dir / "keys.json").read_text()).values()
    assert not [k for k in [*every_key, TRAINING_1, old_prediction_2] if k in log]
    assert (data_dir / "keys.json").stat().st_mode & 0o777 == 0o600
