"""Issue 18, item 2: uploads cost about one request per 64 images, reruns stay incremental and stateless, and
the map image id -> dataset file survives deletions and lost records. Requests are counted by a proxy on
loopback between the official SDK (in `cvops`, unmodified) and the self-hosted service."""
from __future__ import annotations

import hashlib
import json
import math

import pytest

from harness.counting_proxy import CountingProxy
from harness.images import photo
from harness.pipeline import cvops, unique, write_config
from pipeline.config.loader import load_config
from pipeline.sdk.clients import training_client
from pipeline.steps import image_map
from pipeline.steps.upload import project_images

pytestmark = [pytest.mark.slow]

UPLOAD, METADATA, LISTING = ("POST", "/images/files"), ("POST", "/images/metadata"), ("GET", "/{id}/images")
POLL = "/iterations/{id}"  # GET: the training iteration polled until it completes
# What a first run costs besides its uploads: projects, domains, create project, tags (list + 2 created),
# images listed, iterations listed (twice), train, performance, publish, iterations listed to prune, the one
# update_image_metadata, and the project read again and its description written to record the dataset version.
# Polls of the training iteration depend on time and are left out. Per 256 images: the iteration's images listed
# (its dataset version) and its held-out predictions (the confusion and the suspects).
FIXED = 18
PER_256 = 2


def generated(root, count: int, tags=("blue", "red")):
    """`count` different images, split evenly over `tags`, named so that the upload order is known."""
    per_tag = count // len(tags)
    for tag in tags:
        (root / tag).mkdir(parents=True)
        for i in range(per_tag):
            (root / tag / f"{tag}{i:03d}.jpg").write_bytes(photo(tag, i))
    return root


def env_through(proxy, service) -> dict[str, str]:
    return {**service.environment(), "CUSTOM_VISION_TRAINING_ENDPOINT": proxy.endpoint}


def recognised(config, env) -> tuple[int, int]:
    """(images in the project, images whose dataset file the project's metadata names)."""
    loaded = load_config(config, env)
    trainer = training_client(loaded.config.service)
    project = next(p for p in trainer.get_projects() if p.name == loaded.config.project.name)
    images = project_images(trainer, project.id)
    return len(images), len(image_map.identify((im.id, im.metadata) for im in images).by_image)


def test_first_run_makes_one_request_per_64_images_and_a_rerun_uploads_nothing(cvlocal_service, tmp_path):
    count = 300
    data = generated(tmp_path / "data", count)
    with CountingProxy(cvlocal_service.endpoint) as proxy:
        env = env_through(proxy, cvlocal_service)
        config = write_config(tmp_path / "gen.yaml", project={"name": unique("Requests")}, gates=None,
                              smoke_test=None, dataset={"path": str(data)})
        first = cvops("run", str(config), env=env, cwd=tmp_path)
        assert first.exit_code == 0, first.output
        assert proxy.count(*UPLOAD) == math.ceil(count / 64) == 5
        assert proxy.count(*METADATA) == 1  # was one an image (300)
        without_polls = proxy.total(excluding=(POLL,))
        print(f"\nfirst run of {count} images: {without_polls} requests besides polls: {dict(proxy.counts)}")
        assert without_polls <= count / 64 + PER_256 * math.ceil(count / 256) + FIXED
        assert proxy.count("GET", "/performance/images") == proxy.count("GET", "/images/tagged") == math.ceil(
            count / 256)
        report = json.loads((tmp_path / "out" / "report.json").read_text())
        assert report["uploads"]["uploaded"] == count and report["uploads"]["requests"] == 6
        assert recognised(config, env) == (count, count)

        proxy.reset()
        again = cvops("run", str(config), env=env, cwd=tmp_path)
        assert again.exit_code == 0, again.output
        assert proxy.count(*UPLOAD) == 0 and proxy.count(*METADATA) == 0
        assert proxy.count(*LISTING) == math.ceil(count / 256)
        # the iteration's version is recorded and its held-out predictions kept: neither is read again
        assert proxy.count("GET", "/performance/images") == proxy.count("GET", "/images/tagged") == 0
        print(f"no-op rerun: {proxy.total()} requests: {dict(proxy.counts)}")
        assert json.loads((tmp_path / "out" / "report.json").read_text())["outcome"] == "up-to-date"


def test_the_map_survives_deletions_and_a_lost_record_is_found_again(cvlocal_service, tmp_path):
    data = generated(tmp_path / "data", 64)  # batches of 16: blue000-015, blue016-031, red000-015, red016-031
    with CountingProxy(cvlocal_service.endpoint) as proxy:
        env = env_through(proxy, cvlocal_service)
        config = write_config(tmp_path / "gen.yaml", project={"name": unique("Map")}, gates=None, smoke_test=None,
                              upload={"batch_images": 16}, dataset={"path": str(data), "sync": "mirror",
                                                                    "max_delete": 16})
        first = cvops("run", str(config), env=env, cwd=tmp_path)
        assert first.exit_code == 0, first.output
        assert (proxy.count(*UPLOAD), proxy.count(*METADATA)) == (4, 1)
        assert recognised(config, env) == (64, 64)

        # 1. The files of batch 2 leave the dataset: mirror deletes their images, which carried batch 1's map;
        #    that map is written again (one call) onto batch 1's images.
        for i in range(16, 32):
            (data / "blue" / f"blue{i:03d}.jpg").unlink()
        proxy.reset()
        mirrored = cvops("run", str(config), env=env, cwd=tmp_path)
        assert mirrored.exit_code == 0, mirrored.output
        assert "deleted 16 image(s) that the dataset no longer has" in mirrored.stderr
        assert (proxy.count(*UPLOAD), proxy.count(*METADATA)) == (0, 1)
        assert recognised(config, env) == (48, 48)

        # 2. Batch 4's images are deleted behind the pipeline's back: they carried batch 3's map too. The rerun
        #    uploads batch 4 again and batch 3 as well (OKDuplicate gives their ids): all known again.
        loaded = load_config(config, env)
        trainer = training_client(loaded.config.service)
        project = next(p for p in trainer.get_projects() if p.name == loaded.config.project.name)
        listed = trainer.get_images(project.id, take=256)
        known = image_map.identify((im.id, im.metadata) for im in listed).by_image
        red = {image_map.hash_key(hashlib.sha256(photo("red", i)).hexdigest()): i for i in range(32)}
        batch4 = [im.id for im in listed if red.get(known[im.id], -1) >= 16]
        assert len(batch4) == 16
        trainer.delete_images(project.id, image_ids=batch4)
        assert recognised(config, env) == (32, 16)
        proxy.reset()
        repaired = cvops("run", str(config), env=env, cwd=tmp_path)
        assert repaired.exit_code == 0, repaired.output
        report = json.loads((tmp_path / "out" / "report.json").read_text())
        assert (report["uploads"]["uploaded"], report["uploads"]["duplicates"]) == (16, 16)
        assert report["sync"]["deleted"] == []  # the unrecognised images were dataset images, not deleted
        assert (proxy.count(*UPLOAD), proxy.count(*METADATA)) == (2, 1)
        assert recognised(config, env) == (48, 48)

        proxy.reset()
        assert cvops("run", str(config), env=env, cwd=tmp_path).exit_code == 0
        assert (proxy.count(*UPLOAD), proxy.count(*METADATA)) == (0, 0)


def test_a_project_uploaded_the_old_way_is_read_as_it_is(cvlocal_service, tmp_path):
    """Older cvops versions recorded `cvops.sha256` (and `cvops.file`) on each image: those records still count."""
    from azure.cognitiveservices.vision.customvision.training.models import ImageFileCreateBatch, \
        ImageFileCreateEntry

    data = generated(tmp_path / "data", 20)
    with CountingProxy(cvlocal_service.endpoint) as proxy:
        env = env_through(proxy, cvlocal_service)
        config = write_config(tmp_path / "old.yaml", project={"name": unique("Old")}, gates=None, smoke_test=None,
                              dataset={"path": str(data)})
        loaded = load_config(config, env)
        trainer = training_client(loaded.config.service)
        project = trainer.create_project(loaded.config.project.name)
        for tag in ("blue", "red"):
            tag_id = trainer.create_tag(project.id, tag).id
            for path in sorted((data / tag).iterdir()):  # the old way: one upload, then one metadata call
                made = trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=[
                    ImageFileCreateEntry(name=path.name, contents=path.read_bytes(), tag_ids=[tag_id])]))
                trainer.update_image_metadata(project.id, [made.images[0].image.id], {
                    "cvops.sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "cvops.file": f"{tag}/{path.name}"})
        (data / "red" / "red900.jpg").write_bytes(photo("red", 900))
        proxy.reset()
        ran = cvops("run", str(config), env=env, cwd=tmp_path)
        assert ran.exit_code == 0, ran.output
        report = json.loads((tmp_path / "out" / "report.json").read_text())
        assert (report["uploads"]["uploaded"], report["uploads"]["skipped"]) == (1, 20)
        assert (proxy.count(*UPLOAD), proxy.count(*METADATA)) == (1, 1)
        assert report["sync"]["retag"]["count"] == 0 and report["sync"]["only_in_project"]["count"] == 0
        assert recognised(config, env) == (21, 21)
