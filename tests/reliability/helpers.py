"""Shared by the reliability tests: the configs of the clean and the faulted runs, and what a service holds
after a pipeline run (its "end state")."""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.pipeline import write_config
from harness.rest import Rest
from harness.service import RunningService
from pipeline.steps import image_map

PAGE = 256
PROJECT = "Grocery Checkout"
PUBLISH = "groceries"


def configs(tmp: Path, datasets: Path) -> dict[str, Path]:
    """`fruit`: the shipped groceries config, uploading in batches of 8; `plus`: the same on fruit + fruit-extra."""
    fruit = write_config(tmp / "fruit.yaml", upload={"batch_images": 8})
    plus = write_config(tmp / "plus.yaml", base=fruit,
                        dataset={"path": str(fruit_plus_extra(datasets, tmp / "fruit-plus"))})
    return {"fruit": fruit, "plus": plus}


def fruit_plus_extra(datasets: Path, into: Path) -> Path:
    """A copy of the fruit dataset with the fruit-extra images added (51 images, 3 tags)."""
    shutil.copytree(datasets / "fruit", into)
    for tag_dir in (datasets / "fruit-extra").iterdir():
        for image in tag_dir.iterdir():
            shutil.copy(image, into / tag_dir.name / image.name)
    return into


def probes(datasets: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted((datasets / "fruit-extra").glob("*/*.jpg"))[:4]]


@dataclass
class EndState:
    """What a pipeline run leaves on the service, without ids, names of iterations or times."""

    project_count: int
    tags: list[str]
    images: list[tuple[str, tuple[str, ...]]]  # (content hash recorded by cvops, tag names), sorted
    image_count: int
    statuses: list[str] = field(default_factory=list)  # of every iteration, sorted
    published: int = 0  # iterations published under the name
    published_status: str | None = None
    predictions: list[list[tuple[str, float]]] = field(default_factory=list)  # per probe image

    def same_as(self, other: "EndState", tolerance: float = 0.01) -> bool:
        """Equal data; predictions of the published iteration equal up to float noise."""
        if (self.project_count, self.tags, self.images, self.image_count, self.published, self.published_status) \
                != (other.project_count, other.tags, other.images, other.image_count, other.published,
                    other.published_status):
            return False
        for mine, theirs in zip(self.predictions, other.predictions, strict=True):
            if [t for t, _ in mine] != [t for t, _ in theirs]:
                return False
            if any(abs(a - b) > tolerance for (_, a), (_, b) in zip(mine, theirs)):
                return False
        return True


class PatientRest(Rest):
    """Rest that retries what an injected fault refused or cut off (only for reads and idempotent calls)."""

    def _retrying(self, call, method: str, path: str, **kwargs):
        for attempt in range(30):
            try:
                response = call(method, path, **kwargs)
            except httpx.TransportError:
                continue
            if response.status_code not in (429, 503):
                return response
        raise AssertionError(f"{method} {path}: no answer in 30 attempts")

    def training(self, method: str, path: str, **kwargs):
        return self._retrying(super().training, method, path, **kwargs)

    def prediction(self, method: str, path: str, **kwargs):
        return self._retrying(super().prediction, method, path, **kwargs)


def end_state(service: RunningService, project_name: str, publish_name: str, probe_images: list[bytes]) -> EndState:
    rest = PatientRest(service)
    projects = [p for p in rest.training("GET", "/projects").json() if p["name"] == project_name]
    state = EndState(len(projects), [], [], 0)
    if len(projects) != 1:
        return state
    pid = projects[0]["id"]
    state.tags = sorted(t["name"] for t in rest.training("GET", f"/projects/{pid}/tags").json())
    rows = []
    for skip in range(0, 100_000, PAGE):
        page = rest.training("GET", f"/projects/{pid}/images", params={"take": PAGE, "skip": skip}).json()
        rows += page
        if len(page) < PAGE:
            break
    state.image_count = rest.training("GET", f"/projects/{pid}/images/count").json()
    assert state.image_count == len(rows)
    known = image_map.identify((r["id"], r["metadata"]) for r in rows).by_image  # the file each image is
    state.images = sorted((known.get(r["id"], "?"), tuple(sorted(t["tagName"] for t in r["tags"]))) for r in rows)
    iterations = rest.training("GET", f"/projects/{pid}/iterations").json()
    state.statuses = sorted(i["status"] for i in iterations)
    holders = [i for i in iterations if i["publishName"] == publish_name]
    state.published = len(holders)
    state.published_status = holders[0]["status"] if holders else None
    if holders:
        for data in probe_images:
            r = rest.prediction("POST", f"/{pid}/classify/iterations/{publish_name}/image/nostore", content=data,
                                headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 200, r.text
            state.predictions.append([(p["tagName"], p["probability"]) for p in r.json()["predictions"]])
    return state


def wait_until(predicate, timeout: float = 30, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:  # noqa: BLE001 - the service may be starting or dying
            pass
        time.sleep(interval)
    return False
