"""A data folder made by the released cvlocal (tests/fixtures/data-folder-v1, before schema versioning) opens in
this version: migrated in place at start-up, it serves the same project, predictions and trainings."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from cvlocal.store.sql.schema import LATEST
from harness.images import photo
from harness.rest import Rest

RELEASED = Path(__file__).resolve().parents[1] / "fixtures" / "data-folder-v1"
OCTET = {"Content-Type": "application/octet-stream"}


def test_a_released_data_folder_serves_and_trains_after_the_upgrade(fresh_service):
    shutil.copytree(RELEASED, fresh_service.data_dir)
    service = fresh_service.start()
    rest = Rest(service)
    [project] = rest.training("GET", "/projects").json()
    assert project["name"] == "Colours"
    pid = project["id"]
    assert rest.training("GET", f"/projects/{pid}/images/count").json() == 12
    [iteration] = rest.training("GET", f"/projects/{pid}/iterations").json()
    assert iteration["status"] == "Completed" and iteration["publishName"] == "colours"
    assert rest.training("GET", f"/projects/{pid}/iterations/{iteration['id']}/performance").json()["precision"] > 0.9

    for colour in ("red", "blue"):  # the published model, as the release trained it
        r = rest.prediction("POST", f"/{pid}/classify/iterations/colours/image/nostore",
                            content=photo(colour, 500, size=(48, 36)), headers=OCTET)
        assert r.status_code == 200 and r.json()["predictions"][0]["tagName"] == colour
    image = rest.training("GET", f"/projects/{pid}/images", params={"take": 1}).json()[0]
    assert rest.http.get(image["originalImageUri"]).status_code == 200  # its blobs are where it left them

    again = rest.train(pid, forceTrain="true")  # trains on the new schema (leases, the training constraint)
    assert rest.training("GET", f"/projects/{pid}/iterations/{again}").json()["name"] == "Iteration 2"
    service.stop()
    with sqlite3.connect(service.data_dir / "cvlocal.db") as db:
        assert [v for (v,) in db.execute("SELECT version FROM schema_version ORDER BY version")] == \
            list(range(1, LATEST + 1))
    assert f"schema migrated to version {LATEST} (applied {', '.join(map(str, range(1, LATEST + 1)))})" in service.log()
