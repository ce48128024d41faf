"""An import of a project from another service is all or nothing: kill -9 of the importing service while it
fetches the images leaves no project (not a partial one) after the restart, the database intact, and the same
token then imports the whole project; while an import runs, the project is never visible in part."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import httpx
import pytest

from harness.counting_proxy import CountingProxy
from harness.images import photo
from harness.rest import Rest
from harness.service import RunningService
from tests.reliability.helpers import wait_until

pytestmark = [pytest.mark.slow]
IMAGES_PER_TAG = 10


class SlowExporter(CountingProxy):
    """The exporter, reached over a slow link: each image of an export takes a while to arrive (the window to
    kill the importer in), and the images fetched so far are counted."""

    def __init__(self, target: str, delay_s: float):
        super().__init__(target)
        self.delay_s = delay_s
        self.images_sent = 0

    def exchange(self, request, headers, body):
        if "/blobs/project-exports/" in request.path and "/images/" in request.path:
            time.sleep(self.delay_s)
            self.images_sent += 1
        return super().exchange(request, headers, body)


def test_an_import_killed_mid_way_leaves_nothing_and_the_token_then_imports_the_whole_project(tmp_path,
                                                                                             cvlocal_service):
    exporter = cvlocal_service
    with SlowExporter(exporter.endpoint, 0.1) as link:
        source = Rest(exporter)
        pid = source.project()
        for colour in ("red", "blue"):
            tag = source.tag(pid, colour)
            assert source.upload(pid, tag, [photo(colour, 500 + i) for i in range(IMAGES_PER_TAG)]).status_code == 200
        # exported through the slow link: the token names the link, the importer fetches through it
        token = Rest(SimpleNamespace(endpoint=link.endpoint, training_key=exporter.training_key)).training(
            "GET", f"/projects/{pid}/export").json()["token"]

        importer = RunningService(tmp_path / "importer", extra_args=["--import-from", link.endpoint])
        with importer:
            rest = Rest(importer)
            outcome = []

            def attempt_import() -> None:
                try:
                    outcome.append(rest.training("POST", "/projects/import",
                                                 params={"token": token, "name": "imported"}))
                except httpx.HTTPError as exc:  # the service died under it
                    outcome.append(exc)

            attempt = threading.Thread(target=attempt_import, daemon=True)
            attempt.start()
            assert wait_until(lambda: link.images_sent >= IMAGES_PER_TAG // 2, timeout=30)
            importer.kill()
            sent_before_the_kill = link.images_sent
            attempt.join(10)
            assert sent_before_the_kill < 2 * IMAGES_PER_TAG and isinstance(outcome[0], httpx.HTTPError)
            importer.start()
            assert importer.integrity_check() == "ok"
            assert rest.training("GET", "/projects").json() == []  # nothing, not a part

            seen, done = [], threading.Event()

            def watch() -> None:  # what a client sees while the import runs
                while not done.is_set():
                    for project in rest.training("GET", "/projects").json():
                        seen.append(rest.training("GET", f"/projects/{project['id']}/images/count").json())
                    time.sleep(0.02)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            imported = rest.training("POST", "/projects/import", params={"token": token, "name": "imported"})
            done.set()
            watcher.join(10)
            assert imported.status_code == 200, imported.text
            new_id = imported.json()["id"]
            assert rest.training("GET", f"/projects/{new_id}/images/count").json() == 2 * IMAGES_PER_TAG
            tags = rest.training("GET", f"/projects/{new_id}/tags").json()
            assert sorted((t["name"], t["imageCount"]) for t in tags) == [("blue", IMAGES_PER_TAG), ("red", IMAGES_PER_TAG)]
            assert set(seen) <= {2 * IMAGES_PER_TAG}  # whenever the project was visible, it was whole
