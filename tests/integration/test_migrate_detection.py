"""`cvops export`, `import` and `migrate` of an object detection project between two self-hosted services over
the official SDK: the images with their regions (several on one image, none on another), the trained iteration
recorded with its performance, the project on the object detection domain of the same name; both sides read back
and compared here, box by box. (Training on the target is the pipeline's own step, the same for both types.)"""
from __future__ import annotations

import json
import time

import pytest
from azure.cognitiveservices.vision.customvision.training.models import (ImageFileCreateBatch, ImageFileCreateEntry,
                                                                         Region)

from harness.images import scene
from harness.pipeline import cvops
from harness.rest import DETECTION_TRAINING_S
from harness.service import RunningService
from tests.integration.projects import project_id, sdk

pytestmark = pytest.mark.slow
NAME = "Blocks on a table"
LOGO = "1d8ffafe-ec40-4fb2-8f90-72b3b6cecea4"  # object detection, Logo
PER_TAG = 15


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    root = tmp_path_factory.mktemp("migrate-detection")
    with RunningService(root / "a") as a, RunningService(root / "b") as b:
        yield a, b


def keys(source, target) -> dict[str, str]:
    return {"CVOPS_SOURCE_TRAINING_KEY": source.training_key, "CVOPS_TARGET_TRAINING_KEY": target.training_key,
            "CVOPS_TARGET_PREDICTION_RESOURCE_ID": target.prediction_resource_id}


def boxes(trainer, pid: str) -> dict[str, list[tuple]]:
    """{image width x height and tags: sorted regions}, the regions rounded: each side's view of its project."""
    out = {}
    for operation in (trainer.get_tagged_images, trainer.get_untagged_images):
        for image in operation(pid, take=256):
            key = f"{image.width}x{image.height} {sorted(t.tag_name for t in image.tags)} {image.id}"
            out[key] = sorted((r.tag_name, round(r.left, 6), round(r.top, 6), round(r.width, 6), round(r.height, 6))
                              for r in image.regions or [])
    return out


def test_an_object_detection_project_moves_with_its_regions(services, tmp_path):
    a, b = services
    source, target = sdk(a), sdk(b)
    project = source.create_project(NAME, domain_id=LOGO)
    tags = {c: source.create_tag(project.id, c).id for c in ("red", "blue")}
    entries = []
    for colour in tags:
        for seed in range(PER_TAG):
            data, (left, top, width, height) = scene(colour, seed)
            entries.append(ImageFileCreateEntry(name=f"{colour}{seed}.jpg", contents=data, regions=[
                Region(tag_id=tags[colour], left=left, top=top, width=width, height=height)]))
    data, _ = scene("red", 99)
    entries.append(ImageFileCreateEntry(name="both.jpg", contents=data, regions=[
        Region(tag_id=tags["red"], left=0.0, top=0.0, width=0.25, height=0.5),
        Region(tag_id=tags["blue"], left=0.5, top=0.5, width=0.5, height=0.5),
        Region(tag_id=tags["blue"], left=0.1, top=0.6, width=0.2, height=0.2)]))
    entries.append(ImageFileCreateEntry(name="none.jpg", contents=scene("blue", 98)[0]))
    summary = source.create_images_from_files(project.id, ImageFileCreateBatch(images=entries))
    assert summary.is_batch_successful
    iteration = source.train_project(project.id)
    deadline = time.monotonic() + DETECTION_TRAINING_S
    while iteration.status == "Training" and time.monotonic() < deadline:
        time.sleep(1)
        iteration = source.get_iteration(project.id, iteration.id)
    assert iteration.status == "Completed", iteration.training_error_details

    folder = tmp_path / "export"
    exported = cvops("export", NAME, str(folder), "--from", a.endpoint, "--json", env=keys(a, b), cwd=tmp_path)
    assert exported.exit_code == 0, exported.output
    done = json.loads(exported.stdout)
    assert done["project"]["project_type"] == "ObjectDetection" and done["regions"] == 2 * PER_TAG + 3
    manifest = {m["path"]: m for m in json.loads((folder / "manifest.json").read_text())["images"]}
    both = next(m for m in manifest.values() if len(m["regions"]) == 3)
    assert both["tags"] == ["blue", "red"] and both["path"].startswith("images/")
    assert sum(1 for m in manifest.values() if m["path"].startswith("untagged/") and not m["regions"]) == 1
    record = json.loads((folder / "project.json").read_text())
    assert record["project"]["domain"] == "Logo" and record["iterations"][0]["performance"] is not None

    moved = cvops("migrate", NAME, "--from", a.endpoint, "--to", b.endpoint, "--folder", str(folder), "--json",
                  env=keys(a, b), cwd=tmp_path, timeout=600)
    assert moved.exit_code == 0, moved.output
    result = json.loads(moved.stdout)
    assert result["comparison"]["equal"] and result["comparison"]["regions_differ"] == 0, result["comparison"]
    copy = project_id(target, NAME)
    assert target.get_project(copy).settings.domain_id == LOGO
    assert sorted(boxes(target, copy).values()) == sorted(boxes(source, project.id).values())

    again = cvops("import", str(folder), "--to", b.endpoint, "--json", env=keys(a, b), cwd=tmp_path)
    assert again.exit_code == 0 and json.loads(again.stdout)["uploaded"] == 0, again.output

    # a box moved on the source: a new export records it, and the comparison sees the target's is elsewhere
    image = next(i for i in source.get_tagged_images(project.id, take=256) if len(i.regions) == 3)
    source.delete_image_regions(project.id, [image.regions[0].region_id])
    again = cvops("migrate", NAME, "--from", a.endpoint, "--to", b.endpoint, "--folder", str(folder), "--json",
                  env=keys(a, b), cwd=tmp_path)
    compared = json.loads(again.stdout)["comparison"]
    assert again.exit_code == 1 and compared["regions_differ"] == 1 and not compared["equal"], again.output
