"""`cvlocal gc` on a serving data directory: the blobs of deleted images, deleted iterations, expired exports and
deleted projects (their stored predictions too) go; everything a client can still reach stays and still works;
uploads of the same bytes racing the collection never lose their blob."""
from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import ImageFileCreateBatch, ImageFileCreateEntry
from msrest.authentication import ApiKeyCredentials

from cvlocal.store import open_existing_store
from cvlocal.store.gc import collect_garbage
from harness.exports import exported
from harness.images import photo
from harness.rest import Rest

pytestmark = pytest.mark.slow
GENERAL_COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"


def _blobs(data_dir: Path) -> set[str]:
    return {p.name for p in (data_dir / "blobs").glob("??/*") if re.fullmatch(r"[0-9a-f]{64}", p.name)}


def _age_blobs(data_dir: Path, seconds: float = 7200) -> None:
    then = time.time() - seconds
    for digest in _blobs(data_dir):
        os.utime(data_dir / "blobs" / digest[:2] / digest, (then, then))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _gc(data_dir: Path, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "cvlocal", "gc", "--data-dir", str(data_dir), *args],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _row(data_dir: Path, sql: str, params=()) -> tuple:
    with sqlite3.connect(f"file:{data_dir / 'cvlocal.db'}?mode=ro", uri=True) as db:
        return db.execute(sql, params).fetchone()


def test_gc_deletes_what_no_client_can_reach_and_keeps_what_it_can(fresh_service):
    fresh_service.extra_args = ["--export-link-lifetime", "1"]
    service = fresh_service.start()
    data_dir = service.data_dir
    trainer = CustomVisionTrainingClient(service.endpoint,
                                         ApiKeyCredentials(in_headers={"Training-key": service.training_key}))
    predictor = CustomVisionPredictionClient(service.endpoint,
                                             ApiKeyCredentials(in_headers={"Prediction-key": service.prediction_key}))
    rest = Rest(service)
    # project A: two iterations; the first is exported, then deleted; the second is published and exported
    a = trainer.create_project(f"gc a {time.time_ns()}", domain_id=GENERAL_COMPACT)
    tags = {c: trainer.create_tag(a.id, c).id for c in ("red", "blue")}
    images = {c: [photo(c, i) for i in range(7)] for c in tags}
    for colour, tag in tags.items():
        trainer.create_images_from_files(a.id, ImageFileCreateBatch(images=[
            ImageFileCreateEntry(name=f"{colour}{i}.jpg", contents=data, tag_ids=[tag])
            for i, data in enumerate(images[colour][:6])]))
    first = rest.train(a.id)
    exported(trainer, a.id, first, "ONNX")
    trainer.create_images_from_data(a.id, images["red"][6], tag_ids=[tags["red"]])
    second = rest.train(a.id)
    trainer.publish_iteration(a.id, second, "prod", service.prediction_resource_id)
    first_blobs = _row(data_dir, "SELECT model_digest, heldout_digest FROM iterations WHERE id = ?", (first,))
    first_export = _row(data_dir, "SELECT blob_digest FROM exports WHERE iteration_id = ?", (first,))[0]
    trainer.delete_iteration(a.id, first)
    exported(trainer, a.id, second, "ONNX")
    expired_export = _row(data_dir, "SELECT blob_digest FROM exports WHERE iteration_id = ?", (second,))[0]
    deleted_images = trainer.get_tagged_images(a.id, tag_ids=[tags["blue"]], take=2)
    deleted_bytes = {_sha(httpx.get(i.original_image_uri).content) for i in deleted_images}
    trainer.delete_images(a.id, [i.id for i in deleted_images])
    # project B: trained, published, predicted with (stored), then deleted; one of its images is also A's
    b = rest.project()
    b_images = {c: [photo(c, 200 + i) for i in range(6)] for c in ("blue", "red")}
    shared = images["red"][1]
    for colour, data in b_images.items():
        assert rest.upload(b, rest.tag(b, colour), data + ([shared] if colour == "red" else [])).status_code == 200
    b_iteration = rest.train(b)
    b_blobs = set(_row(data_dir, "SELECT model_digest, heldout_digest FROM iterations WHERE id = ?", (b_iteration,)))
    trainer.publish_iteration(b, b_iteration, "b", service.prediction_resource_id)
    stored = [photo("blue", 900 + i) for i in range(3)]
    for data in stored:
        predictor.classify_image(b, "b", data)
    trainer.unpublish_iteration(b, b_iteration)
    trainer.delete_project(b)
    probe = photo("red", 777)
    served = [(p.tag_name, p.probability) for p in predictor.classify_image_with_no_store(a.id, "prod", probe).predictions]
    time.sleep(1.1)  # the second export's link expires
    _age_blobs(data_dir)
    garbage = {*first_blobs, first_export, expired_export, *deleted_bytes, *map(_sha, stored), *b_blobs,
               *(_sha(data) for data in b_images["blue"] + b_images["red"])}
    assert garbage <= _blobs(data_dir) and len(deleted_bytes) == 2

    before = _blobs(data_dir)
    dry = _gc(data_dir, "--dry-run")
    assert _blobs(data_dir) == before
    would = int(re.search(r"would delete (\d+) unreferenced", dry).group(1))
    done = _gc(data_dir)
    deleted = before - _blobs(data_dir)
    assert int(re.search(r"deleted (\d+) unreferenced", done).group(1)) == would == len(deleted)
    assert deleted == garbage and "deleted 1 expired exports" in done
    assert _sha(shared) in _blobs(data_dir)  # deleted with B, but A names it too

    # what clients reach still works
    for image in trainer.get_tagged_images(a.id, take=100):
        assert httpx.get(image.original_image_uri).status_code == 200
    assert [(p.tag_name, p.probability) for p in
            predictor.classify_image_with_no_store(a.id, "prod", probe).predictions] == served
    assert trainer.get_iteration_performance(a.id, second).precision is not None
    assert httpx.get(exported(trainer, a.id, second, "ONNX").download_uri).status_code == 200
    # a deleted image uploaded again is stored again
    again = next(data for data in images["blue"] if _sha(data) in deleted_bytes)
    created = trainer.create_images_from_data(a.id, again, tag_ids=[tags["blue"]]).images[0].image
    assert httpx.get(created.original_image_uri).content == again


def test_uploads_racing_the_collection_keep_every_blob_they_name(fresh_service):
    """Each round: a project's images are deleted and their blobs made old, then the same bytes are uploaded to
    it again while collections run back to back; every acknowledged image must then download."""
    service = fresh_service.start()
    rest = Rest(service)
    pid = rest.project()
    tag = rest.tag(pid, "red")
    batch = [photo("red", i) for i in range(32)]
    store = open_existing_store(service.data_dir)
    try:
        for round_ in range(6):
            r = rest.upload(pid, tag, batch)
            assert r.status_code == 200, r.text
            assert rest.training("DELETE", f"/projects/{pid}/images", params={"allImages": "true"}).status_code == 204
            _age_blobs(service.data_dir)
            stop, deleted = threading.Event(), [0]

            def collect():
                while not stop.is_set():
                    deleted[0] += collect_garbage(store, grace_s=60).deleted

            collector = threading.Thread(target=collect)
            collector.start()
            try:
                for start in range(0, len(batch), 4):
                    r = rest.upload(pid, tag, batch[start:start + 4])
                    assert r.status_code == 200, r.text
            finally:
                stop.set()
                collector.join(60)
            assert deleted[0] > 0  # the collection really ran against these uploads (it took some blobs)
            listed = rest.training("GET", f"/projects/{pid}/images/tagged", params={"take": 64}).json()
            assert len(listed) == len(batch)
            for image in listed:
                assert rest.http.get(image["originalImageUri"]).status_code == 200, f"round {round_}: blob lost"
    finally:
        store.close()
