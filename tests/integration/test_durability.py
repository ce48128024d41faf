"""kill -9 at any moment loses nothing acknowledged and leaves no iteration stuck in Training."""
from __future__ import annotations

import threading
import time
from pathlib import Path

from cvlocal.cli import FEATURE_CACHE_VARIABLE
from harness.images import photo
from harness.rest import Rest

from .exported_projects import GENERAL_COMPACT


def test_kill_during_uploads_keeps_every_acknowledged_image_and_tag(fresh_service):
    service = fresh_service.start()
    rest = Rest(service)
    pid = rest.project()
    tags = {c: rest.tag(pid, c) for c in ("red", "blue")}
    acknowledged: list[str] = []
    stop = threading.Event()

    def upload_forever():
        seed = 0
        while not stop.is_set():
            colour = ("red", "blue")[seed % 2]
            try:
                r = rest.upload(pid, tags[colour], [photo(colour, seed * 10 + i, size=(320, 240)) for i in range(8)])
            except Exception:
                return  # the service died under us
            if r.status_code == 200:
                acknowledged.extend(i["image"]["id"] for i in r.json()["images"])
            seed += 1

    uploader = threading.Thread(target=upload_forever)
    uploader.start()
    time.sleep(2.0)
    service.kill()
    stop.set()
    uploader.join(30)
    assert len(acknowledged) >= 8, "the uploader should have finished a few batches before the kill"
    assert service.integrity_check() == "ok"

    service.start()
    rest = Rest(service)
    stored = {img["id"] for skip in range(0, 2000, 256) for img in rest.training(
        "GET", f"/projects/{pid}/images/tagged", params={"take": 256, "skip": skip}).json()}
    assert set(acknowledged) <= stored
    assert {t["name"] for t in rest.training("GET", f"/projects/{pid}/tags").json()} == {"red", "blue"}
    for image_id in list(acknowledged)[:5]:  # the bytes are there too, not only the rows
        image = rest.training("GET", f"/projects/{pid}/images/id", params={"imageIds": image_id}).json()[0]
        assert rest.http.get(image["originalImageUri"]).status_code == 200


def test_kill_during_training_ends_the_iteration_failed_and_training_works_again(fresh_service):
    fresh_service.env = {FEATURE_CACHE_VARIABLE: ""}  # the backbone runs: training takes long enough to kill
    service = fresh_service.start()
    rest = Rest(service)
    pid = rest.project()
    for colour in ("red", "blue"):
        tag = rest.tag(pid, colour)
        for start in range(0, 96, 32):  # enough images that training takes a moment
            r = rest.upload(pid, tag, [photo(colour, i, size=(640, 480)) for i in range(start, start + 32)])
            assert r.status_code == 200
    r = rest.training("POST", f"/projects/{pid}/train")
    iteration_id = r.json()["id"]
    time.sleep(0.3)
    assert rest.training("GET", f"/projects/{pid}/iterations/{iteration_id}").json()["status"] == "Training"
    service.kill()
    assert service.integrity_check() == "ok"

    service.start()
    rest = Rest(service)
    iteration = rest.training("GET", f"/projects/{pid}/iterations/{iteration_id}").json()
    assert iteration["status"] == "Failed"
    assert "stopped while this iteration was training" in iteration["trainingErrorDetails"]
    assert rest.training("GET", f"/projects/{pid}/images/tagged/count").json() == 192
    rest.train(pid)  # not "not needed": the failed iteration does not count as trained


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        if entry.name.isdigit() and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
    return out


def _running(pid: int) -> bool:
    try:  # a zombie has ended; it only waits for its new parent to read its status
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_kill_9_of_a_service_takes_its_export_builder_with_it(fresh_service):
    """The export builder (a process of its own that loads the converters, a gigabyte or so) ends when its
    service is killed: it must not be left holding that memory."""
    fresh_service.start()
    rest = Rest(fresh_service)
    pid = rest.project(domain_id=GENERAL_COMPACT)
    for colour in ("red", "blue"):
        assert rest.upload(pid, rest.tag(pid, colour), [photo(colour, i) for i in range(6)]).status_code == 200
    iteration = rest.train(pid)
    assert rest.export(pid, iteration, "ONNX")["status"] == "Done"
    builders = [c for c in _children(fresh_service.process.pid)
                if b"spawn_main" in (Path("/proc") / str(c) / "cmdline").read_bytes()]
    assert builders, "the export was built in a process of its own"
    fresh_service.kill()
    deadline = time.monotonic() + 15
    while any(_running(b) for b in builders) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_running(b) for b in builders), "the export builder outlived its service"
