"""Three replicas sharing one PostgreSQL database and one Azurite container, behind a round-robin balancer: a
replica lost mid-training loses no training, a replica lost mid-upload loses no acknowledged image and stores
none twice, a replica stopped gracefully hands its training back, a publish on one replica is served by every
other at once, links one replica made work on another, and replicas that start together migrate once."""
from __future__ import annotations

import hashlib
import threading
import time

import httpx
import pytest

from cvlocal.store.sql.schema import LATEST
from harness.cluster import Cluster
from harness.images import photo, scene
from harness.rest import DETECTION_TRAINING_S, Rest

pytestmark = [pytest.mark.slow]
TRAIN_DELAY_S = 2.0  # every claimed training waits this long, leased, before it trains: the window to kill in


@pytest.fixture(scope="module")
def cluster(postgres, azurite, tmp_path_factory):
    with Cluster.on(postgres, azurite, tmp_path_factory.mktemp("cluster"), lease_s=6.0,
                    extra_args=["--faults", f"train-delay={TRAIN_DELAY_S}"]) as running:
        yield running


@pytest.fixture
def all_up(cluster):
    """Each test starts and ends with every replica serving (a test that kills one starts it again)."""
    yield cluster
    for replica in cluster.replicas:
        if replica.process.poll() is not None:
            replica.start()


def project_with_images(rest: Rest, per_tag: int = 6) -> tuple[str, dict[str, str]]:
    pid = rest.project()
    tags = {c: rest.tag(pid, c) for c in ("red", "blue")}
    for colour, tag in tags.items():
        assert rest.upload(pid, tag, [photo(colour, i) for i in range(per_tag)]).status_code == 200
    return pid, tags


def claimed(cluster: Cluster, iteration_id: str, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        holder = cluster.training_replica(iteration_id)
        if holder is not None:
            return holder
        time.sleep(0.05)
    raise TimeoutError(f"no replica claimed {iteration_id}")


def training_claimed(cluster: Cluster) -> tuple[Rest, str, str, int]:
    """A training asked of the balancer and claimed by a replica: (client, project, iteration, that replica)."""
    rest = Rest(cluster)
    pid, _ = project_with_images(rest)
    iteration_id = rest.training("POST", f"/projects/{pid}/train").json()["id"]
    return rest, pid, iteration_id, claimed(cluster, iteration_id)


def detection_training_claimed(cluster: Cluster) -> tuple[Rest, str, str, int]:
    """An object detection training (15 generated scenes of one tag) asked of the balancer, claimed by a replica."""
    rest = Rest(cluster)
    pid, _ = rest.detection_project(colours=("red",), per_tag=15)
    iteration_id = rest.training("POST", f"/projects/{pid}/train").json()["id"]
    return rest, pid, iteration_id, claimed(cluster, iteration_id)


def lease_of(cluster: Cluster, iteration_id: str) -> tuple[str, int, str]:
    return cluster.query("SELECT status, attempts, lease_owner FROM iterations WHERE id = %s", (iteration_id,))[0]


def test_replicas_that_start_together_migrate_once(cluster):
    assert all(r.process.poll() is None for r in cluster.replicas)  # none failed on another's migration
    assert cluster.query("SELECT version FROM schema_version ORDER BY version") == [(v,) for v in range(1, LATEST + 1)]


def test_every_replica_takes_key_2_and_is_ready_when_the_database_and_the_container_answer(all_up):
    cluster = all_up
    for replica in cluster.replicas:
        with httpx.Client(base_url=replica.endpoint, timeout=30) as http:
            training = {"Training-Key": cluster.training_key2}
            assert http.get("/customvision/v3.3/training/projects", headers=training).status_code == 200
            assert http.get("/customvision/v3.3/training/projects",
                            headers={"Training-Key": cluster.prediction_key2}).status_code == 401
            ready = http.get("/ready").json()
            assert set(ready["checks"]) == {"store", "backbone"} and ready["checks"]["store"] == "ok", ready


def test_kill_9_of_the_training_replica_the_training_completes_on_another(all_up):
    cluster = all_up
    rest, pid, iteration_id, holder = training_claimed(cluster)
    first_owner = lease_of(cluster, iteration_id)[2]
    cluster.kill(holder)

    assert rest.wait(pid, iteration_id, timeout=60) == iteration_id  # Completed, not Failed
    status, attempts, owner = lease_of(cluster, iteration_id)
    assert status == "Completed" and attempts == 2 and owner != first_owner
    performance = rest.training("GET", f"/projects/{pid}/iterations/{iteration_id}/performance").json()
    assert performance["precision"] > 0.9 and len(performance["perTagPerformance"]) == 2
    assert cluster.integrity_check() == "ok"


def test_kill_9_of_an_object_detection_training_replica_another_finishes_it(all_up):
    cluster = all_up
    rest, pid, iteration_id, holder = detection_training_claimed(cluster)
    first_owner = lease_of(cluster, iteration_id)[2]
    cluster.kill(holder)

    assert rest.wait(pid, iteration_id, timeout=DETECTION_TRAINING_S) == iteration_id  # Completed, not Failed
    status, attempts, owner = lease_of(cluster, iteration_id)
    assert status == "Completed" and attempts == 2 and owner != first_owner
    performance = rest.training("GET", f"/projects/{pid}/iterations/{iteration_id}/performance",
                                params={"overlapThreshold": 0.3}).json()
    assert [t["name"] for t in performance["perTagPerformance"]] == ["red"]
    rest.training("POST", f"/projects/{pid}/iterations/{iteration_id}/publish",
                  params={"publishName": "blocks", "predictionId": cluster.prediction_resource_id})
    for replica in cluster.replicas:  # the detector the survivor trained serves on every replica
        if replica.process.poll() is not None:
            continue
        with httpx.Client(base_url=replica.endpoint, timeout=60) as http:
            r = http.post(f"/customvision/v3.1/prediction/{pid}/detect/iterations/blocks/image/nostore",
                          content=scene("red", 5)[0], headers={"Prediction-Key": cluster.prediction_key,
                                                               "Content-Type": "application/octet-stream"})
            assert r.status_code == 200 and r.json()["predictions"][0]["boundingBox"], r.text
    assert cluster.integrity_check() == "ok"


def test_a_replica_stopped_gracefully_hands_its_training_back(all_up):
    cluster = all_up
    rest, pid, iteration_id, holder = training_claimed(cluster)
    stopped = time.monotonic()
    cluster.replicas[holder].stop()  # SIGTERM: in-flight requests finish, the lease goes back
    assert "handed 1 training(s) back" in cluster.replicas[holder].log()
    taken = claimed(cluster, iteration_id)
    handover_s = time.monotonic() - stopped
    assert taken != holder and handover_s < cluster.lease_s, f"taken over after {handover_s:.1f} s"
    assert rest.wait(pid, iteration_id, timeout=60) == iteration_id
    assert lease_of(cluster, iteration_id)[:2] == ("Completed", 1)  # handed back, not counted as an attempt


def test_kill_9_during_uploads_every_acknowledged_image_is_there_once(all_up):
    cluster = all_up
    rest = Rest(cluster)
    pid = rest.project()
    tags = {c: rest.tag(pid, c) for c in ("red", "blue")}
    acknowledged: dict[str, str] = {}  # content hash -> image id, as answered
    failed_batches, lock, stop = [], threading.Lock(), threading.Event()

    def upload(worker: int) -> None:
        http = Rest(cluster)
        batch = 0
        while not stop.is_set():
            colour = ("red", "blue")[batch % 2]
            images = [photo(colour, 100_000 * worker + 10 * batch + i, size=(160, 120)) for i in range(6)]
            for _ in range(5):  # a failed batch is sent again, as the pipeline does: uploads are idempotent
                try:
                    r = http.upload(pid, tags[colour], images)
                except httpx.HTTPError:
                    continue
                if r.status_code == 200:
                    with lock:
                        for data, entry in zip(images, r.json()["images"]):
                            sha = hashlib.sha256(data).hexdigest()
                            assert acknowledged.setdefault(sha, entry["image"]["id"]) == entry["image"]["id"]
                    break
                failed_batches.append(r.status_code)
            batch += 1

    workers = [threading.Thread(target=upload, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    time.sleep(2.0)
    before_kill = len(acknowledged)
    cluster.kill(1)
    time.sleep(2.0)
    stop.set()
    for worker in workers:
        worker.join(60)
    assert before_kill >= 6 and len(acknowledged) > before_kill, "uploads went on through the other replicas"

    stored = []
    for skip in range(0, 10_000, 256):
        page = rest.training("GET", f"/projects/{pid}/images", params={"take": 256, "skip": skip}).json()
        stored += page
        if len(page) < 256:
            break
    ids = [image["id"] for image in stored]
    assert len(ids) == len(set(ids)) == rest.training("GET", f"/projects/{pid}/images/count").json()
    assert set(acknowledged.values()) <= set(ids)
    rows = cluster.query("SELECT sha256, COUNT(*) FROM images WHERE project_id = %s GROUP BY sha256", (pid,))
    assert all(count == 1 for _, count in rows) and {sha for sha, _ in rows} >= set(acknowledged)
    assert cluster.integrity_check() == "ok"
    print(f"\n{len(acknowledged)} images acknowledged ({before_kill} before the kill), {len(ids)} stored, "
          f"failed answers {sorted(set(failed_batches))}")


def test_a_publish_on_one_replica_is_served_by_every_other_at_once(all_up):
    cluster = all_up
    direct = [Rest(replica) for replica in cluster.replicas]  # each replica on its own port, no balancer
    pid, _ = project_with_images(direct[0])
    iteration_id = direct[0].training("POST", f"/projects/{pid}/train").json()["id"]
    direct[0].wait(pid, iteration_id, timeout=60)
    image = photo("red", 999)

    def classify(rest: Rest) -> httpx.Response:
        return rest.prediction("POST", f"/{pid}/classify/iterations/now/image/nostore", content=image,
                               headers={"Content-Type": "application/octet-stream"})

    assert classify(direct[1]).status_code == 404
    r = direct[0].training("POST", f"/projects/{pid}/iterations/{iteration_id}/publish",
                           params={"publishName": "now", "predictionId": cluster.prediction_resource_id})
    assert r.status_code == 200
    for rest in direct[1:]:
        answer = classify(rest)
        assert answer.status_code == 200 and answer.json()["predictions"][0]["tagName"] == "red"
    assert direct[1].training("DELETE", f"/projects/{pid}/iterations/{iteration_id}/publish").status_code == 204
    assert [classify(rest).status_code for rest in (direct[0], direct[2])] == [404, 404]


def test_image_and_export_links_made_by_one_replica_work_on_another(all_up):
    cluster = all_up
    direct = [Rest(replica) for replica in cluster.replicas]
    compact = "0732100f-1a38-4e49-a514-c9b44c697ab5"  # General (compact): exportable
    pid = direct[0].project(domain_id=compact)
    tag = direct[0].tag(pid, "red")
    uploaded = [photo("red", 70 + i) for i in range(5)]
    assert direct[0].upload(pid, tag, uploaded).status_code == 200
    blue = direct[0].tag(pid, "blue")
    assert direct[0].upload(pid, blue, [photo("blue", 70 + i) for i in range(5)]).status_code == 200
    iteration_id = direct[0].train(pid)

    images = direct[1].training("GET", f"/projects/{pid}/images/tagged", params={"tagIds": tag}).json()
    link = images[0]["originalImageUri"]  # signed by replica 1
    port = str(cluster.replicas[1].port)
    assert port in link
    elsewhere = link.replace(port, str(cluster.replicas[2].port))
    assert httpx.get(elsewhere).content in uploaded  # replica 2 checks replica 1's signature: the shared secret

    assert direct[0].training("POST", f"/projects/{pid}/iterations/{iteration_id}/export",
                              params={"platform": "ONNX"}).status_code == 200
    export = direct[1].finished_export(pid, iteration_id, "ONNX", None)  # built by replica 0, read on replica 1
    assert export["status"] == "Done"
    download = httpx.get(export["downloadUri"].replace(port, str(cluster.replicas[2].port)))
    assert download.status_code == 200 and download.content[:2] == b"PK"  # the zip, from the shared container


def test_a_project_exported_on_one_replica_imports_on_the_others(all_up):
    """The token is signed with the secret every replica shares, and the export's row and images are in the shared
    database and container: any replica imports it, with no --import-from."""
    cluster = all_up
    direct = [Rest(replica) for replica in cluster.replicas]
    pid, _ = project_with_images(direct[0], per_tag=3)
    token = direct[0].training("GET", f"/projects/{pid}/export").json()["token"]

    def shape(rest: Rest, project_id: str) -> list[tuple[str, list[str]]]:
        images = rest.training("GET", f"/projects/{project_id}/images", params={"take": 256}).json()
        return sorted((hashlib.sha256(httpx.get(i["originalImageUri"]).content).hexdigest(),
                       sorted(t["tagName"] for t in i["tags"])) for i in images)

    source = shape(direct[0], pid)
    for number in (1, 2):
        copied = direct[number].training("POST", "/projects/import", params={"token": token, "name": f"{pid} {number}"})
        assert copied.status_code == 200, copied.text
        assert shape(direct[(number + 1) % 3], copied.json()["id"]) == source and len(source) == 6
    altered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    refused = direct[1].training("POST", "/projects/import", params={"token": altered})
    assert refused.status_code == 400 and refused.json()["code"] == "BadRequestInvalidImportToken"
