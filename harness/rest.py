"""A raw HTTP client for contract tests: what curl, PowerShell or a portal recipe would send."""
from __future__ import annotations

import time
import uuid

import httpx

from harness.images import photo, scene
from harness.service import PREDICTION_ROOT, TRAINING_ROOT, RunningService


GENERAL_COMPACT_OD = "a27d5ca5-bb19-49d8-a70a-fec086c47f5b"  # General (compact), object detection
DETECTION_TRAINING_S = 900  # how long a test waits for a detection training of a few dozen images (a loaded CI box)


class Rest:
    def __init__(self, service: RunningService):
        self.service = service
        self.http = httpx.Client(base_url=service.endpoint, timeout=60)

    def training(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"Training-Key": self.service.training_key, **kwargs.pop("headers", {})}
        return self.http.request(method, TRAINING_ROOT + path, headers=headers, **kwargs)

    def prediction(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"Prediction-Key": self.service.prediction_key, **kwargs.pop("headers", {})}
        return self.http.request(method, PREDICTION_ROOT + path, headers=headers, **kwargs)

    def project(self, classification_type: str = "Multiclass", domain_id: str | None = None) -> str:
        params = {"name": f"rest {uuid.uuid4().hex[:10]}", "classificationType": classification_type}
        if domain_id:
            params["domainId"] = domain_id
        r = self.training("POST", "/projects", params=params)
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def tag(self, project_id: str, name: str) -> str:
        r = self.training("POST", f"/projects/{project_id}/tags", params={"name": name})
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def upload(self, project_id: str, tag_id: str, images: list[bytes]) -> httpx.Response:
        import base64
        body = {"images": [{"name": f"img{i}.jpg", "contents": base64.b64encode(b).decode(), "tagIds": [tag_id]}
                           for i, b in enumerate(images)]}
        return self.training("POST", f"/projects/{project_id}/images/files", json=body)

    def trained_project(self, colours=("red", "blue"), per_tag: int = 6) -> tuple[str, dict[str, str], str]:
        """A Multiclass project of generated images, trained; (project id, {colour: tag id}, iteration id)."""
        pid = self.project()
        tags = {c: self.tag(pid, c) for c in colours}
        for c in colours:
            r = self.upload(pid, tags[c], [photo(c, i) for i in range(per_tag)])
            assert r.status_code == 200, r.text
        return pid, tags, self.train(pid)

    def detection_project(self, colours=("red", "blue"), per_tag: int = 15,
                          domain_id: str = GENERAL_COMPACT_OD) -> tuple[str, dict[str, str]]:
        """An object detection project of generated scenes, each with one box of its colour's tag: (project id,
        {colour: tag id}), not trained (a detection training takes about a second an image on 2 cores: train it
        with `train(..., timeout=DETECTION_TRAINING_S)`)."""
        import base64
        pid = self.project(domain_id=domain_id)
        tags = {c: self.tag(pid, c) for c in colours}
        entries = []
        for colour in colours:
            for seed in range(per_tag):
                data, (left, top, width, height) = scene(colour, seed)
                entries.append({"name": f"{colour}{seed}.jpg", "contents": base64.b64encode(data).decode(),
                                "regions": [{"tagId": tags[colour], "left": left, "top": top, "width": width,
                                             "height": height}]})
        for start in range(0, len(entries), 64):
            r = self.training("POST", f"/projects/{pid}/images/files", json={"images": entries[start:start + 64]})
            assert r.status_code == 200, r.text
        return pid, tags

    def train(self, project_id: str, timeout: float = 120, **params) -> str:
        r = self.training("POST", f"/projects/{project_id}/train", params=params)
        assert r.status_code == 200, r.text
        return self.wait(project_id, r.json()["id"], timeout)

    def wait(self, project_id: str, iteration_id: str, timeout: float = 600) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.training("GET", f"/projects/{project_id}/iterations/{iteration_id}").json()["status"]
            if status != "Training":
                assert status == "Completed", status
                return iteration_id
            time.sleep(0.2)
        raise TimeoutError(iteration_id)

    def export(self, project_id: str, iteration_id: str, platform: str, flavor: str | None = None,
               timeout: float = 300) -> dict:
        """export_iteration, then get_exports until that export is no longer Exporting (as Azure's, it is
        built in the background); the export as get_exports lists it."""
        params = {"platform": platform, **({"flavor": flavor} if flavor else {})}
        r = self.training("POST", f"/projects/{project_id}/iterations/{iteration_id}/export", params=params)
        assert r.status_code == 200, r.text
        started = r.json()
        assert started["status"] == "Exporting", started
        return self.finished_export(project_id, iteration_id, started["platform"], started["flavor"], timeout)

    def finished_export(self, project_id: str, iteration_id: str, platform: str, flavor: str | None,
                        timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            listed = self.training("GET", f"/projects/{project_id}/iterations/{iteration_id}/export").json()
            export = next(e for e in listed if e["platform"] == platform and e["flavor"] == flavor)
            if export["status"] != "Exporting":
                return export
            assert time.monotonic() < deadline, f"the export to {platform} {flavor} is still Exporting"
            time.sleep(0.2)
