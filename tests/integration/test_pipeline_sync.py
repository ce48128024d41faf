"""Issue 17, problem 1: relabels and deletions in the dataset reach the project, as `dataset.sync` says. Against
the real self-hosted service through the official SDK; the project's state is read back through the SDK."""
from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from harness.pipeline import cvops, unique, write_config
from pipeline.config.loader import load_config
from pipeline.sdk.clients import training_client
from pipeline.steps import image_map

pytestmark = [pytest.mark.datasets, pytest.mark.slow]


def project_state(config, env) -> dict[str, list[str]]:
    """Hash key -> the tag names of the project's image with those bytes (every image must be recognised)."""
    loaded = load_config(config, env)
    trainer = training_client(loaded.config.service)
    project = next(p for p in trainer.get_projects() if p.name == loaded.config.project.name)
    images = trainer.get_images(project.id, take=256)
    found = image_map.identify((im.id, im.metadata) for im in images)
    assert len(found.by_image) == len(images), "an image of the project is not recognised"
    return {found.by_image[im.id]: sorted(t.tag_name for t in im.tags) for im in images}


def key(path) -> str:
    return image_map.hash_key(hashlib.sha256(path.read_bytes()).hexdigest())


def plan(config, env, cwd, *flags):
    done = cvops("plan", str(config), *flags, env=env, cwd=cwd)
    assert done.exit_code == 0, done.output
    return done


def test_relabel_and_deletion_per_sync_mode(cvlocal_service, service_env, datasets, tmp_path):
    data = tmp_path / "fruit-plus"  # the fruit images and the fruit-extra ones (apple7.jpg is one of those)
    shutil.copytree(datasets / "fruit", data)
    for image in (datasets / "fruit-extra").glob("*/*"):
        shutil.copy(image, data / image.parent.name / image.name)
    name = unique("Sync")

    def config(mode: str, **dataset):
        return write_config(tmp_path / f"{mode}.yaml", project={"name": name}, gates=None, smoke_test=None,
                            dataset={"path": str(data), "sync": mode, **dataset})

    first = cvops("run", str(config("retag")), env=service_env, cwd=tmp_path)
    assert first.exit_code == 0, first.output
    apple7, orange = data / "apple" / "apple7.jpg", data / "orange" / "orange8.jpg"
    moved, gone = key(apple7), key(orange)
    assert project_state(config("retag"), service_env)[moved] == ["apple"]

    # The steps: apple7.jpg is moved into banana/, an orange is deleted.
    shutil.move(apple7, data / "banana" / "apple7.jpg")
    orange.unlink()

    # add-only: nothing changes, but plan and run both say what differs (not only in a file)
    add_only = config("add-only")
    planned = json.loads(plan(add_only, service_env, tmp_path, "--json").stdout)["sync"]
    assert planned["retag"] == {"count": 1, "applied": False, "files": ["banana/apple7.jpg: apple -> banana"]}
    assert planned["only_in_project"]["count"] == 1 and not planned["only_in_project"]["deleted"]
    text = plan(add_only, service_env, tmp_path).stdout
    assert "tags differ from the dataset: 1 image(s): left alone" in text and "banana/apple7.jpg" not in text
    assert "banana/apple7.jpg: apple -> banana" in plan(add_only, service_env, tmp_path, "-v").stdout
    ran = cvops("run", str(add_only), env=service_env, cwd=tmp_path)
    assert ran.exit_code == 0, ran.output
    assert "1 image(s) have other tags in the project than in the dataset, left alone" in ran.stderr
    assert "banana/apple7.jpg: apple -> banana" in ran.stderr
    assert "1 image(s) in the project are not in the dataset, left alone" in ran.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["sync"]["retagged"] == [] and report["sync"]["retag"]["count"] == 1
    assert "left alone" in (tmp_path / "out" / "report.md").read_text()
    state = project_state(add_only, service_env)
    assert state[moved] == ["apple"] and gone in state and len(state) == 51

    # retag: apple7's image is banana now; the deleted orange stays (and is said to stay); a new iteration
    retag = config("retag")
    planned = json.loads(plan(retag, service_env, tmp_path, "--json").stdout)
    assert planned["sync"]["retag"]["applied"] and planned["training"] == {"needed": True,
                                                                             "reason": "1 image(s) retagged"}
    ran = cvops("run", str(retag), env=service_env, cwd=tmp_path)
    assert ran.exit_code == 0, ran.output
    assert "retagged 1 image(s) as the dataset says: banana/apple7.jpg: apple -> banana" in ran.stderr
    assert "not in the dataset, left alone (dataset.sync: retag; mirror deletes them)" in ran.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["sync"]["retagged"] == ["banana/apple7.jpg: apple -> banana"]
    assert report["training"]["iteration"] == "Iteration 2" and report["outcome"] == "published"
    state = project_state(retag, service_env)
    assert state[moved] == ["banana"] and gone in state and len(state) == 51

    # mirror: plan says it deletes one (within the limit), run deletes it, a rerun finds nothing to do
    mirror = config("mirror")
    planned = json.loads(plan(mirror, service_env, tmp_path, "--json").stdout)["sync"]
    assert planned["delete"] == {"count": 1, "limit": 10, "over_limit": False, "project_images": 51}
    ran = cvops("run", str(mirror), env=service_env, cwd=tmp_path)
    assert ran.exit_code == 0, ran.output
    assert "deleted 1 image(s) that the dataset no longer has" in ran.stderr
    state = project_state(mirror, service_env)
    assert gone not in state and len(state) == 50 and state[moved] == ["banana"]
    assert "the project's images match the dataset" in plan(mirror, service_env, tmp_path).stdout

    # the safety limit: refused (exit 2, nothing deleted) until allowed
    (data / "orange" / "orange9.jpg").unlink()
    strict = config("mirror", max_delete=0)
    assert "REFUSED" in plan(strict, service_env, tmp_path).stdout
    refused = cvops("run", str(strict), env=service_env, cwd=tmp_path)
    assert refused.exit_code == 2, refused.output
    assert "more than 0 (dataset.max_delete" in refused.stderr and "--allow-mass-delete" in refused.stderr
    assert len(project_state(strict, service_env)) == 50
    allowed = cvops("run", str(strict), "--allow-mass-delete", env=service_env, cwd=tmp_path)
    assert allowed.exit_code == 0, allowed.output
    assert len(project_state(strict, service_env)) == 49
