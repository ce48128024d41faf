"""`cvlocal backup` while the service trains nothing but predicts all the time, `cvlocal restore` into a new
data directory, a service started on it: the same iterations, the same predictions, the same signed links."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from msrest.authentication import ApiKeyCredentials

from harness.images import photo
from harness.rest import Rest
from harness.service import RunningService

pytestmark = pytest.mark.slow


def cvlocal(*args: str, expect: int = 0) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "cvlocal", *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == expect, result.stdout + result.stderr
    return result


def _clients(service: RunningService):
    trainer = CustomVisionTrainingClient(service.endpoint,
                                         ApiKeyCredentials(in_headers={"Training-key": service.training_key}))
    predictor = CustomVisionPredictionClient(service.endpoint,
                                             ApiKeyCredentials(in_headers={"Prediction-key": service.prediction_key}))
    return trainer, predictor


def _state(service: RunningService, project_id: str, probes: list[bytes]) -> dict:
    """What a client sees of the project: its iterations, their performance, its images, and predictions."""
    trainer, predictor = _clients(service)
    iterations = trainer.get_iterations(project_id)
    return {
        "iterations": sorted((i.id, i.name, i.status, i.publish_name, str(i.trained_at)) for i in iterations),
        "performance": {i.id: (p.precision, p.recall, p.average_precision)
                        for i in iterations for p in [trainer.get_iteration_performance(project_id, i.id, 0.5)]},
        "images": sorted((i.id, i.width, tuple(t.tag_name for t in i.tags))
                         for i in trainer.get_tagged_images(project_id, take=256)),
        "predictions": [[(p.tag_name, p.probability) for p in
                         predictor.classify_image_with_no_store(project_id, "prod", probe).predictions]
                        for probe in probes],
    }


def test_a_backup_taken_while_predicting_restores_to_the_same_service(fresh_service, tmp_path):
    service = fresh_service.start()
    rest = Rest(service)
    pid, tags, first = rest.trained_project(colours=("red", "blue", "green"))
    rest.upload(pid, tags["green"], [photo("green", 100 + i) for i in range(4)])
    second = rest.train(pid)
    for iteration, name in ((first, "old"), (second, "prod")):
        r = rest.training("POST", f"/projects/{pid}/iterations/{iteration}/publish",
                          params={"publishName": name, "predictionId": service.prediction_resource_id})
        assert r.status_code == 200, r.text
    probes = [photo(colour, 500 + i) for colour in ("red", "blue", "green") for i in range(2)]

    _, predictor = _clients(service)
    stop, predicted, errors = threading.Event(), [0], []

    def predict_all_the_time():
        while not stop.is_set():
            try:
                predictor.classify_image(pid, "prod", probes[predicted[0] % len(probes)])  # stored: writes rows
                predicted[0] += 1
            except Exception as exc:  # counted, then asserted empty
                errors.append(exc)

    clients = [threading.Thread(target=predict_all_the_time) for _ in range(3)]
    for client in clients:
        client.start()
    try:
        backup = tmp_path / "backups" / "monday"
        during = predicted[0]
        out = cvlocal("backup", str(backup), "--data-dir", str(service.data_dir)).stdout
        assert predicted[0] > during  # predictions kept being served (and stored) during the backup
    finally:
        stop.set()
        for client in clients:
            client.join(60)
    assert not errors and predicted[0] > 0
    assert "Backed up" in out and service.training_key not in out
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["format"] == "cvlocal-backup" and manifest["keys"] is True and manifest["blobs"] > 20
    assert (backup / "keys.json").stat().st_mode & 0o777 == 0o600
    before = _state(service, pid, probes)
    image_link = rest.training("GET", f"/projects/{pid}/images/tagged", params={"take": 1}).json()[0]["originalImageUri"]
    original = httpx.get(image_link).content
    service.stop()  # the restored copy must stand on its own

    restored_dir = tmp_path / "restored"
    cvlocal("restore", str(backup), "--data-dir", str(restored_dir))
    restored = RunningService(restored_dir, training_key=service.training_key, prediction_key=service.prediction_key)
    with restored:
        assert _state(restored, pid, probes) == before
        moved_link = image_link.replace(service.endpoint, restored.endpoint)  # signed by the restored secret
        assert httpx.get(moved_link).content == original
    assert restored.integrity_check() == "ok"
    assert json.loads((restored_dir / "keys.json").read_text()) == json.loads((backup / "keys.json").read_text())


def test_backup_and_restore_refuse_what_they_would_overwrite_or_cannot_trust(fresh_service, tmp_path):
    service = fresh_service.start()
    rest = Rest(service)
    pid = rest.project()
    rest.upload(pid, rest.tag(pid, "red"), [photo("red", i) for i in range(3)])
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    refused = cvlocal("backup", str(occupied), "--data-dir", str(service.data_dir), expect=2)
    assert "not empty" in refused.stderr and sorted(p.name for p in occupied.iterdir()) == ["notes.txt"]
    missing = cvlocal("backup", str(tmp_path / "b"), "--data-dir", str(tmp_path / "nothing-here"), expect=2)
    assert "holds no cvlocal data" in missing.stderr

    backup = tmp_path / "backup"
    cvlocal("backup", str(backup), "--data-dir", str(service.data_dir))
    refused = cvlocal("restore", str(backup), "--data-dir", str(service.data_dir), expect=2)
    assert "not empty" in refused.stderr and rest.training("GET", f"/projects/{pid}").status_code == 200
    blob = next(p for p in (backup / "blobs").rglob("*") if p.is_file())
    blob.write_bytes(b"bit rot")
    damaged = cvlocal("restore", str(backup), "--data-dir", str(tmp_path / "new"), expect=2)
    assert "damaged" in damaged.stderr and not (tmp_path / "new").exists()
    assert not [p for p in tmp_path.iterdir() if ".restoring-" in p.name or ".partial-" in p.name]
    not_a_backup = cvlocal("restore", str(tmp_path / "occupied"), "--data-dir", str(tmp_path / "new"), expect=2)
    assert "not a cvlocal backup" in not_a_backup.stderr
    assert Path(service.data_dir / "cvlocal.db").exists()
