"""Load: many clients mixing uploads, trainings, publishes and predictions against one self-hosted service.

    python -m bench.soak [--seconds 60] [--clients 32] [--projects 4] [--replicas 3]

It starts `cvlocal serve` on a free loopback port and a fresh data directory (with `--replicas N`: N replicas
sharing a throwaway PostgreSQL and an Azurite container behind a round-robin balancer, harness/cluster.py, which
needs PostgreSQL's binaries and Node.js), gives every project two tags, ten
images and a published iteration, then lets the clients loose until the time is up. Each client, in a loop:
uploads 1-4 new images (now and then one it uploaded before, which must come back OKDuplicate with the same id),
classifies through the published name, quick-tests, reads listings and counts, starts a training, publishes a
finished iteration (moving the name with overwrite) and deletes old iterations when a project has 20.

It then waits for every training to end and checks: no 5xx, no connection error or timeout, no answer outside
each call's expected ones; every acknowledged image is in its project exactly once (as many images as distinct
acknowledged ids, one id per content hash, a sample of downloads matching their hashes); every training
Completed; `PRAGMA integrity_check` ok (a cluster: every blob the database names is in the container, no content
stored twice). Prints the figures as Markdown; exits 1 if a check failed.
`make soak` runs it for 60 s with 32 clients; its figures are in docs/reliability.md, and a short run is part of
the test suite (tests/reliability/test_soak.py).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from bench.common import peak_rss_mb
from harness.images import photo
from harness.service import PREDICTION_ROOT, TRAINING_ROOT, RunningService

PUBLISH_NAME = "soak"
COLOURS = ("red", "blue")
OCTET = {"Content-Type": "application/octet-stream"}
# Each call and the answers that are part of normal operation under contention (anything else is a failure).
EXPECTED = {
    "upload": {(200, None)},
    "upload again": {(200, None)},
    "classify": {(200, None)},
    "quick test": {(200, None)},
    "read": {(200, None)},
    "train": {(200, None), (400, "BadRequestTrainingAlreadyInProgress"), (400, "BadRequestTrainingNotNeeded"),
              (400, "BadRequestExceedIterationPerProjectLimit")},
    "publish": {(200, None), (404, "NotFoundIteration")},
    "poll": {(200, None), (404, "NotFoundIteration")},
    "delete iteration": {(204, None), (400, "BadRequestIterationIsPublished"),
                         (400, "BadRequestTrainingAlreadyInProgress"), (404, "NotFoundIteration")},
}
WEIGHTS = {"upload": 30, "classify": 35, "quick test": 5, "read": 15, "train": 8, "publish": 7}


@dataclass
class Project:
    id: str
    tags: dict[str, str]
    acked: dict[str, str] = field(default_factory=dict)  # content hash -> image id, as the service answered
    pending: set[str] = field(default_factory=set)       # iterations started and not yet published
    started: list[str] = field(default_factory=list)     # every iteration a client started


@dataclass
class Result:
    seconds: float
    clients: int
    projects: int
    calls: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # op -> latencies (s)
    answers: dict[tuple, int] = field(default_factory=lambda: defaultdict(int))       # (op, status, code) -> n
    failures: list[str] = field(default_factory=list)
    images_new: int = 0
    images_duplicate: int = 0
    trainings: int = 0
    training_seconds: list[float] = field(default_factory=list)
    publishes: int = 0
    peak_rss_mb: float | None = None
    integrity: str = ""
    stored_images: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures and self.integrity == "ok"

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.calls.values())


class Soak:
    def __init__(self, service: RunningService, seconds: float, clients: int, projects: int, seed: int):
        self.service = service
        self.seconds, self.clients, self.project_count = seconds, clients, projects
        self.result = Result(seconds, clients, projects)
        self.lock = threading.Lock()
        self.projects: list[Project] = []
        self.seed = seed
        self.training_key = {"Training-Key": service.training_key}
        self.prediction_key = {"Prediction-Key": service.prediction_key}

    # ---- one call, timed and judged
    def call(self, http: httpx.Client, op: str, method: str, url: str, **kwargs) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.fail(f"{op}: {method} {url}: no answer: {type(exc).__name__}: {exc}")
            return None
        finally:
            elapsed = time.perf_counter() - started
            with self.lock:
                self.result.calls[op].append(elapsed)
        code = None
        if response.status_code >= 300:
            try:
                code = response.json().get("code")
            except ValueError:
                code = "<not JSON>"
        with self.lock:
            self.result.answers[(op, response.status_code, code)] += 1
        if response.status_code >= 500:
            self.fail(f"{op}: {method} {url}: HTTP {response.status_code} {response.text[:200]}")
        elif (response.status_code, code) not in EXPECTED[op]:
            self.fail(f"{op}: {method} {url}: unexpected HTTP {response.status_code} {code}: {response.text[:200]}")
        return response

    def fail(self, message: str) -> None:
        with self.lock:
            if len(self.result.failures) < 200:
                self.result.failures.append(message)

    # ---- set-up: projects with two tags, ten images and a published iteration
    def seed_projects(self) -> None:
        http = self.client()
        for n in range(self.project_count):
            r = http.post(f"{TRAINING_ROOT}/projects", params={"name": f"soak {n}"}, headers=self.training_key)
            r.raise_for_status()
            project = Project(r.json()["id"], {})
            for colour in COLOURS:
                r = http.post(f"{TRAINING_ROOT}/projects/{project.id}/tags", params={"name": colour},
                              headers=self.training_key)
                r.raise_for_status()
                project.tags[colour] = r.json()["id"]
                images = [photo(colour, 10_000 * n + i) for i in range(5)]
                self.upload(http, project, colour, images, "upload")
            r = http.post(f"{TRAINING_ROOT}/projects/{project.id}/train", headers=self.training_key)
            r.raise_for_status()
            iteration = r.json()["id"]
            project.started.append(iteration)
            while http.get(f"{TRAINING_ROOT}/projects/{project.id}/iterations/{iteration}",
                           headers=self.training_key).json()["status"] == "Training":
                time.sleep(0.1)
            http.post(f"{TRAINING_ROOT}/projects/{project.id}/iterations/{iteration}/publish",
                      params={"publishName": PUBLISH_NAME, "predictionId": self.service.prediction_resource_id},
                      headers=self.training_key).raise_for_status()
            self.projects.append(project)
        http.close()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.service.endpoint, timeout=60)

    # ---- the operations
    def upload(self, http, project: Project, colour: str, images: list[bytes], op: str) -> None:
        hashes = [hashlib.sha256(data).hexdigest() for data in images]
        if len(images) == 1 and op == "upload":  # the raw octet-stream route, as curl would send it
            r = self.call(http, op, "POST", f"{TRAINING_ROOT}/projects/{project.id}/images",
                          params={"tagIds": project.tags[colour]}, content=images[0],
                          headers={**self.training_key, **OCTET})
        else:
            body = {"images": [{"name": f"{h[:12]}.jpg", "contents": base64.b64encode(d).decode(),
                                "tagIds": [project.tags[colour]]} for h, d in zip(hashes, images)]}
            r = self.call(http, op, "POST", f"{TRAINING_ROOT}/projects/{project.id}/images/files", json=body,
                          headers=self.training_key)
        if r is None or r.status_code != 200:
            return
        for sha, entry in zip(hashes, r.json()["images"]):
            image_id = entry["image"]["id"]
            with self.lock:
                known = project.acked.setdefault(sha, image_id)
                if entry["status"] == "OK":
                    self.result.images_new += 1
                else:
                    self.result.images_duplicate += 1
            if known != image_id:
                self.fail(f"{op}: content {sha[:12]} answered as image {image_id}, earlier as {known}")
            if op == "upload again" and entry["status"] != "OKDuplicate":
                self.fail(f"{op}: content {sha[:12]} was stored again ({entry['status']})")

    def work(self, number: int, deadline: float) -> None:
        rng = random.Random(f"{self.seed}-{number}")
        http = self.client()
        counter = 0
        mine: list[tuple[Project, str, bytes]] = []  # what this client uploaded, to upload again
        ops, weights = list(WEIGHTS), list(WEIGHTS.values())
        while time.monotonic() < deadline:
            project = rng.choice(self.projects)
            op = rng.choices(ops, weights)[0]
            colour = rng.choice(COLOURS)
            if op == "upload":
                if mine and rng.random() < 0.15:
                    again_project, again_colour, data = rng.choice(mine)
                    self.upload(http, again_project, again_colour, [data], "upload again")
                    continue
                images = []
                for _ in range(rng.randint(1, 4)):
                    counter += 1
                    images.append(photo(colour, 1_000_000 * (number + 1) + counter))
                self.upload(http, project, colour, images, "upload")
                mine += [(project, colour, data) for data in images[:1]]
            elif op == "classify":
                suffix = rng.choice(["image", "image/nostore"])
                self.call(http, op, "POST", f"{PREDICTION_ROOT}/{project.id}/classify/iterations/{PUBLISH_NAME}/"
                          f"{suffix}", content=photo(colour, rng.randrange(10 ** 6)),
                          headers={**self.prediction_key, **OCTET})
            elif op == "quick test":
                self.call(http, op, "POST", f"{TRAINING_ROOT}/projects/{project.id}/quicktest/image",
                          params={"store": "false"}, content=photo(colour, rng.randrange(10 ** 6)),
                          headers={**self.training_key, **OCTET})
            elif op == "read":
                path = rng.choice(["/images/tagged?take=50", "/images/count", "/iterations", "/tags",
                                   f"/images/tagged/count?tagIds={project.tags[colour]}"])
                self.call(http, op, "GET", f"{TRAINING_ROOT}/projects/{project.id}{path}", headers=self.training_key)
            elif op == "train":
                self.train(http, project)
            elif op == "publish":
                self.publish(http, project)
        http.close()

    def train(self, http, project: Project) -> None:
        r = self.call(http, "train", "POST", f"{TRAINING_ROOT}/projects/{project.id}/train", headers=self.training_key)
        if r is None:
            return
        if r.status_code == 200:
            with self.lock:
                project.pending.add(r.json()["id"])
                project.started.append(r.json()["id"])
                self.result.trainings += 1
        elif r.status_code == 400 and r.json()["code"] == "BadRequestExceedIterationPerProjectLimit":
            self.prune(http, project)

    def prune(self, http, project: Project) -> None:
        """Delete the oldest iteration that is neither published nor training (as a pipeline would)."""
        r = self.call(http, "read", "GET", f"{TRAINING_ROOT}/projects/{project.id}/iterations",
                      headers=self.training_key)
        if r is None:
            return
        old = [i for i in sorted(r.json(), key=lambda i: i["created"])
               if not i["publishName"] and i["status"] != "Training"]
        if old:
            self.call(http, "delete iteration", "DELETE",
                      f"{TRAINING_ROOT}/projects/{project.id}/iterations/{old[0]['id']}", headers=self.training_key)

    def publish(self, http, project: Project) -> None:
        """Publish a finished training of the project under the name, moving it (overwrite)."""
        with self.lock:
            pending = sorted(project.pending)
        for iteration in pending:
            r = self.call(http, "poll", "GET", f"{TRAINING_ROOT}/projects/{project.id}/iterations/{iteration}",
                          headers=self.training_key)
            if r is None or r.status_code != 200 or r.json()["status"] == "Training":
                if r is not None and r.status_code == 404:
                    with self.lock:
                        project.pending.discard(iteration)
                continue
            with self.lock:
                if iteration not in project.pending:
                    continue
                project.pending.discard(iteration)
            if r.json()["status"] != "Completed":
                continue  # judged at the end
            r = self.call(http, "publish", "POST",
                          f"{TRAINING_ROOT}/projects/{project.id}/iterations/{iteration}/publish",
                          params={"publishName": PUBLISH_NAME, "predictionId": self.service.prediction_resource_id,
                                  "overwrite": "true"}, headers=self.training_key)
            if r is not None and r.status_code == 200:
                with self.lock:
                    self.result.publishes += 1
            return

    # ---- the run and the checks
    def run(self) -> Result:
        self.seed_projects()
        deadline = time.monotonic() + self.seconds
        threads = [threading.Thread(target=self.work, args=(n, deadline), name=f"soak-client-{n}")
                   for n in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self.seconds + 120)
            if thread.is_alive():
                self.fail(f"{thread.name} still running {self.seconds + 120:.0f} s after the end: a hang")
        self.check()
        return self.result

    def check(self) -> None:
        http = self.client()
        headers = self.training_key
        deadline = time.monotonic() + 180
        for project in self.projects:
            while True:
                iterations = http.get(f"{TRAINING_ROOT}/projects/{project.id}/iterations", headers=headers).json()
                if not any(i["status"] == "Training" for i in iterations) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            for iteration in iterations:
                if iteration["status"] != "Completed":
                    self.fail(f"{iteration['name']} of project {project.id} ended {iteration['status']}: "
                              f"{iteration.get('trainingErrorDetails')}")
                else:  # from the train call to the end of training, queueing behind other projects included
                    self.result.training_seconds.append((_when(iteration["trainedAt"]) - _when(iteration["created"]))
                                                        .total_seconds())
            published = [i for i in iterations if i["publishName"] == PUBLISH_NAME]
            if len(published) != 1:
                self.fail(f"project {project.id}: {len(published)} iterations published as {PUBLISH_NAME!r}")
            stored = []
            for skip in range(0, 10 ** 6, 256):
                page = http.get(f"{TRAINING_ROOT}/projects/{project.id}/images",
                                params={"take": 256, "skip": skip}, headers=headers).json()
                stored += page
                if len(page) < 256:
                    break
            count = http.get(f"{TRAINING_ROOT}/projects/{project.id}/images/count", headers=headers).json()
            ids = [image["id"] for image in stored]
            acked = set(project.acked.values())
            self.result.stored_images += len(ids)
            if len(ids) != len(set(ids)) or count != len(ids):
                self.fail(f"project {project.id}: listing of {len(ids)} images ({len(set(ids))} ids), count {count}")
            if set(ids) != acked:
                self.fail(f"project {project.id}: {len(acked - set(ids))} acknowledged image(s) lost, "
                          f"{len(set(ids) - acked)} image(s) never acknowledged")
            if len(acked) != len(project.acked):
                self.fail(f"project {project.id}: one image id answered for different contents")
            by_id = {image["id"]: image for image in stored}
            for sha, image_id in random.Random(0).sample(sorted(project.acked.items()), min(25, len(project.acked))):
                if image_id in by_id:
                    data = http.get(by_id[image_id]["originalImageUri"]).content
                    if hashlib.sha256(data).hexdigest() != sha:
                        self.fail(f"image {image_id}: its bytes are not the ones acknowledged")
        http.close()
        pids = getattr(self.service, "pids", None) or [self.service.process.pid]
        self.result.peak_rss_mb = max(peak_rss_mb(pid) for pid in pids)  # a cluster: the largest replica


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def run_soak(seconds: float = 60, clients: int = 32, projects: int = 4, seed: int = 0,
             data_dir: Path | None = None, replicas: int = 0, engines=None) -> Result:
    """`replicas`: 0 for one service on SQLite; N for a cluster on `engines` (PostgreSQL, Azurite), started here
    when not given."""
    with tempfile.TemporaryDirectory(prefix="cvlocal-soak-") as tmp, ExitStack() as stack:
        folder = data_dir or Path(tmp)
        if replicas:
            from harness.cluster import Cluster

            postgres, azurite = engines or _engines(stack)
            service = Cluster.on(postgres, azurite, folder / "cluster", size=replicas)
        else:
            service = RunningService(folder / "data")
        with service:
            result = Soak(service, seconds, clients, projects, seed).run()
            if replicas:
                result.integrity = service.integrity_check()  # while the engines run
        if not replicas:
            result.integrity = service.integrity_check()  # the database file, once the service stopped
        if not result.ok:
            result.failures.append(f"service log:\n{service.log()[-4000:]}")
    return result


def _engines(stack: ExitStack):
    from harness.azurite import Azurite
    from harness.postgres import PostgresCluster

    return stack.enter_context(PostgresCluster()), stack.enter_context(Azurite())


def _ms(values: list[float], q: float) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0] * 1000:.0f}"
    return f"{statistics.quantiles(values, n=100, method='inclusive')[q - 1] * 1000:.0f}"


def markdown(result: Result) -> str:
    total = result.requests
    lines = [f"{result.clients} clients, {result.seconds:g} s, {result.projects} projects: {total:,} requests "
             f"({total / result.seconds:.0f}/s); {result.images_new:,} images stored, {result.images_duplicate:,} "
             f"uploaded again (OKDuplicate); {result.trainings} trainings started, all Completed "
             f"(train call to Completed: median {statistics.median(result.training_seconds or [0]):.1f} s, max "
             f"{max(result.training_seconds, default=0):.1f} s); {result.publishes} publishes; "
             f"{result.stored_images:,} images in the projects at the end; peak service memory "
             f"{result.peak_rss_mb or 0:.0f} MB; integrity_check {result.integrity}.", "",
             "| call | requests | p50 ms | p95 ms | p99 ms | max ms | answers |", "|---|---|---|---|---|---|---|"]
    for op, latencies in sorted(result.calls.items(), key=lambda kv: -len(kv[1])):
        answers = ", ".join(f"{status}{' ' + code if code else ''}: {n}" for (o, status, code), n
                            in sorted(result.answers.items(), key=lambda kv: -kv[1]) if o == op)
        lines.append(f"| {op} | {len(latencies):,} | {_ms(latencies, 50)} | {_ms(latencies, 95)} | "
                     f"{_ms(latencies, 99)} | {max(latencies) * 1000:.0f} | {answers} |")
    fives = sum(n for (_, status, _), n in result.answers.items() if status >= 500)
    lines += ["", f"5xx: {fives}; failed checks: {len(result.failures)}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the clients run (default 60)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--projects", type=int, default=4, help="projects they share (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the clients' choices (default 0)")
    parser.add_argument("--replicas", type=int, default=0,
                        help="run against N replicas on PostgreSQL + Azurite behind a balancer (default: one service)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    result = run_soak(args.seconds, args.clients, args.projects, args.seed, replicas=args.replicas)
    print(markdown(result))
    print(f"\n(wall time {time.monotonic() - started:.0f} s, set-up and checks included)")
    for failure in result.failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
