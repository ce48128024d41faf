"""Operating a service that holds an object detection project: `cvlocal gc` keeps every blob the project still
reaches (its images, its detector, its held-out detections, its stored detections) and deletes a deleted image's;
`cvlocal backup` and `restore` bring the project back whole, regions, detector and all."""
from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.images import scene
from harness.rest import DETECTION_TRAINING_S, Rest
from harness.service import RunningService

pytestmark = pytest.mark.slow
OCTET = {"Content-Type": "application/octet-stream"}


def cvlocal(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "cvlocal", *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def blobs(data_dir: Path) -> set[str]:
    return {p.name for p in (data_dir / "blobs").glob("??/*") if re.fullmatch(r"[0-9a-f]{64}", p.name)}


def state(rest: Rest, pid: str, iid: str, probes: list[bytes]) -> dict:
    """What a client sees of the project: regions, performance, detections and the stored ones."""
    images = rest.training("GET", f"/projects/{pid}/images", params={"take": 256}).json()
    return {
        "regions": sorted((i["id"], g["regionId"], g["tagName"], g["left"], g["top"]) for i in images
                          for g in i["regions"]),
        "performance": rest.training("GET", f"/projects/{pid}/iterations/{iid}/performance").json(),
        "detections": [rest.prediction("POST", f"/{pid}/detect/iterations/blocks/image/nostore", content=probe,
                                       headers=OCTET).json()["predictions"] for probe in probes],
        "stored": sorted((r["id"], str(r["predictions"])) for r in rest.training(
            "POST", f"/projects/{pid}/predictions/query", json={"maxCount": 256}).json()["results"]),
    }


def test_gc_backup_and_restore_keep_an_object_detection_project_whole(fresh_service, tmp_path):
    service = fresh_service.start()
    rest = Rest(service)
    pid, tags = rest.detection_project(colours=("red",), per_tag=15)
    data, box = scene("red", 400)  # one more photo, deleted once trained: its bytes are garbage then
    r = rest.training("POST", f"/projects/{pid}/images/files", json={"images": [{
        "contents": base64.b64encode(data).decode(), "regions": [dict(zip(("left", "top", "width", "height"), box),
                                                                      tagId=tags["red"])]}]})
    assert r.status_code == 200, r.text
    iid = rest.train(pid, timeout=DETECTION_TRAINING_S)
    rest.training("DELETE", f"/projects/{pid}/images", params={"imageIds": r.json()["images"][0]["image"]["id"]})
    deleted = hashlib.sha256(data).hexdigest()
    rest.training("POST", f"/projects/{pid}/iterations/{iid}/publish",
                  params={"publishName": "blocks", "predictionId": service.prediction_resource_id})
    probes = [scene("red", 500)[0], scene("blue", 500)[0]]
    for probe in probes:  # stored: their images and detections are the project's
        assert rest.prediction("POST", f"/{pid}/detect/iterations/blocks/image", content=probe,
                               headers=OCTET).status_code == 200
    before = state(rest, pid, iid, probes)
    assert len(before["stored"]) == 2 and all(p[0]["boundingBox"] for p in before["detections"])

    then = time.time() - 7200  # older than gc's grace period
    for digest in blobs(service.data_dir):
        os.utime(service.data_dir / "blobs" / digest[:2] / digest, (then, then))
    kept = blobs(service.data_dir)
    done = cvlocal("gc", "--data-dir", str(service.data_dir))
    assert kept - blobs(service.data_dir) == {deleted}, done  # the deleted image's bytes, nothing else
    assert state(rest, pid, iid, probes) == before

    backup = tmp_path / "backup"
    cvlocal("backup", str(backup), "--data-dir", str(service.data_dir))
    service.stop()
    restored_dir = tmp_path / "restored"
    cvlocal("restore", str(backup), "--data-dir", str(restored_dir))
    with RunningService(restored_dir, training_key=service.training_key,
                        prediction_key=service.prediction_key) as restored:
        assert state(Rest(restored), pid, iid, probes) == before
        image = Rest(restored).training("GET", f"/projects/{pid}/images", params={"take": 1}).json()[0]["id"]
        assert Rest(restored).training("POST", f"/projects/{pid}/images/{image}/regionproposals").status_code == 200

