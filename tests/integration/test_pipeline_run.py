"""`cvops` end to end against the real self-hosted service, through the official SDK over HTTP (no mocks):
publish, no-op rerun, incremental upload and retraining, failing gates, rollback, classify, throttling. The
lifecycle also runs against three replicas behind a balancer (tests/conftest.py); uploads interrupted on a
cluster are tests/reliability/test_cluster.py's (a replica killed, not the client)."""
from __future__ import annotations

import json
import shutil

import pytest

from harness.pipeline import GROCERIES, ROOT, cvops, unique, write_config
from pipeline.config.loader import load_config
from pipeline.sdk.clients import training_client
from pipeline.steps import image_map

pytestmark = [pytest.mark.datasets, pytest.mark.slow]
TREES = ROOT / "config" / "trees.yaml"


def sdk(config_path, env):
    """The pipeline's own retrying SDK client for a config, to look at what the service holds."""
    loaded = load_config(config_path, env)
    trainer = training_client(loaded.config.service)
    project = next(p for p in trainer.get_projects() if p.name == loaded.config.project.name)
    return trainer, project


def published(trainer, project, name):
    return {i.name: i.publish_name for i in trainer.get_iterations(project.id) if i.publish_name == name}


def no_secrets(service, *texts):
    for text in texts:
        assert service.training_key not in text and service.prediction_key not in text


@pytest.mark.also_on_cluster
def test_groceries_lifecycle(fresh_service, datasets, tmp_path):
    fresh_service.tier = "S0"  # Azure's quotas and request rates, as the pipeline meets them
    service = fresh_service.start()
    env = {**service.environment(), "CVOPS_DATASETS": str(datasets),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "GITHUB_OUTPUT": str(tmp_path / "outputs")}
    report_path = tmp_path / "out" / "report.json"

    # 1. the shipped config, as is: creates the project, uploads 45 images, trains, gates, publishes
    first = cvops("run", str(GROCERIES), env=env, cwd=tmp_path)
    assert first.exit_code == 0, first.output
    report = json.loads(report_path.read_text())
    assert report["outcome"] == "published" and report["uploads"]["uploaded"] == 45
    assert report["training"]["trained"] and report["tags_created"] == ["apple", "banana", "orange"]
    assert {g["gate"] for g in report["gates"]} >= {"precision", "tag banana recall", "smoke test apple5.jpg"}
    assert (tmp_path / "out" / "report.md").read_text().startswith("## cvops: Grocery Checkout")
    assert "outcome=published" in (tmp_path / "outputs").read_text()
    assert "Performance of Iteration 1" in (tmp_path / "summary.md").read_text()
    trainer, project = sdk(GROCERIES, env)
    assert project.settings.domain_id == next(d.id for d in trainer.get_domains() if d.name == "Food")
    assert published(trainer, project, "groceries") == {"Iteration 1": "groceries"}
    images = trainer.get_tagged_images(project.id, take=256)
    assert len(image_map.identify((im.id, im.metadata) for im in images).by_image) == 45  # each one's file known

    # 2. nothing changed: nothing uploaded, nothing trained, done in seconds
    second = cvops("run", str(GROCERIES), env=env, cwd=tmp_path)
    assert second.exit_code == 0, second.output
    report = json.loads(report_path.read_text())
    assert report["outcome"] == "up-to-date" and report["uploads"]["uploaded"] == 0
    assert report["uploads"]["skipped"] == 45 and not report["training"]["trained"]
    assert len(trainer.get_iterations(project.id)) == 1
    assert second.seconds < 15, f"no-op rerun took {second.seconds:.1f} s"
    print(f"\ntimings: first run {first.seconds:.1f} s, no-op rerun {second.seconds:.1f} s")

    # 3. a copy of the dataset plus the fruit-extra images: exactly those 6 are uploaded, a new iteration
    #    is trained and published, the old one is left unpublished
    data = tmp_path / "fruit-plus"
    shutil.copytree(datasets / "fruit", data)
    for tag_dir in (datasets / "fruit-extra").iterdir():
        for image in tag_dir.iterdir():
            shutil.copy(image, data / tag_dir.name / image.name)
    plus = write_config(tmp_path / "plus.yaml", dataset={"path": str(data)})
    plan = cvops("plan", str(plus), "--json", env=env, cwd=tmp_path)
    assert plan.exit_code == 0, plan.output
    planned = json.loads(plan.stdout)
    assert planned["images"]["upload"] == 6 and planned["training"]["needed"]
    third = cvops("run", str(plus), env=env, cwd=tmp_path)
    assert third.exit_code == 0, third.output
    report = json.loads(report_path.read_text())
    assert report["uploads"]["uploaded"] == 6 and report["uploads"]["skipped"] == 45
    assert sorted(report["uploads"]["files"]) == sorted(f"{t}/{n}" for t, n in [
        ("apple", "apple5.jpg"), ("apple", "apple7.jpg"), ("banana", "banana4.jpg"), ("banana", "banana6.jpg"),
        ("orange", "orange8.jpg"), ("orange", "orange9.jpg")])
    assert report["training"] == {"trained": True, "iteration": "Iteration 2",
                                  "iteration_id": report["training"]["iteration_id"],
                                  "dataset": {"version": report["dataset"]["version"], "recorded": True, "images": 51,
                                              "manifest": f"out/datasets/{report['dataset']['version']}.json"}}
    assert report["publish"]["previous"] == "Iteration 1"
    assert any(g["gate"] == "no regression of recall" and g["passed"] for g in report["gates"])
    assert published(trainer, project, "groceries") == {"Iteration 2": "groceries"}
    assert trainer.get_tagged_image_count(project.id) == 51

    # 4. a per-tag threshold above what the model reaches (recall at a 0.999 threshold): exit 3,
    #    the gate and its shortfall named, nothing published changes
    strict = write_config(tmp_path / "strict.yaml", base=plus, evaluation={"threshold": 0.999},
                          gates={"per_tag": {"banana": {"recall": 0.95}}})
    failed = cvops("run", str(strict), env=env, cwd=tmp_path)
    assert failed.exit_code == 3, failed.output
    assert "tag banana recall" in failed.stderr and "short by" in failed.stderr
    assert "Iteration 2 stays published" in failed.stderr
    assert json.loads(report_path.read_text())["outcome"] == "published"  # the last good report stays
    assert json.loads(report_path.with_name("report.failed.json").read_text())["outcome"] == "gate-failed"
    assert "report: out/report.failed.json" in failed.stderr
    assert published(trainer, project, "groceries") == {"Iteration 2": "groceries"}

    # 5. rollback: the previous iteration is published under the name again
    rolled = cvops("rollback", str(GROCERIES), env=env, cwd=tmp_path)
    assert rolled.exit_code == 0, rolled.output
    assert "Iteration 1 published as 'groceries'" in rolled.stdout
    assert published(trainer, project, "groceries") == {"Iteration 1": "groceries"}
    status = cvops("status", str(GROCERIES), "--json", env=env, cwd=tmp_path)
    assert status.exit_code == 0, status.output
    state = json.loads(status.stdout)
    assert state["published"] == "Iteration 1" and [i["name"] for i in state["iterations"]] == \
        ["Iteration 1", "Iteration 2"]
    assert state["performance"]["overall"]["precision"] is not None
    back = cvops("rollback", str(GROCERIES), "--to", "Iteration 2", env=env, cwd=tmp_path)
    assert back.exit_code == 0 and published(trainer, project, "groceries") == {"Iteration 2": "groceries"}

    # 6. classify the fruit-extra images through the published prediction endpoint
    extra = sorted((datasets / "fruit-extra").glob("*/*.jpg"))
    classified = cvops("classify", "--config", str(GROCERIES), "--json", *map(str, extra), env=env, cwd=tmp_path)
    assert classified.exit_code == 0, classified.output
    results = json.loads(classified.stdout)
    assert [r["top_tag"] for r in results] == [p.parent.name for p in extra]
    assert all(len(r["predictions"]) == 3 for r in results)
    table = cvops("classify", "--config", str(GROCERIES), str(extra[0]), env=env, cwd=tmp_path)
    assert table.exit_code == 0 and "apple5.jpg: apple" in table.stdout and "banana" in table.stdout

    outputs = [r.output for r in (first, second, plan, third, failed, rolled, status, back, classified, table)]
    no_secrets(service, *outputs, *(p.read_text() for p in (tmp_path / "out").rglob("*.*")),
               (tmp_path / "summary.md").read_text(), (tmp_path / "outputs").read_text())


def test_trees_failing_smoke_test_publishes_nothing_then_passes(service_env, tmp_path):
    name = unique("Trees")
    bad = write_config(tmp_path / "bad.yaml", base=TREES, project={"name": name},
                       smoke_test=[{"image": "${CVOPS_DATASETS}/trees/Hemlock/hemlock_1.jpg",
                                    "expect": "Japanese Cherry"}])
    failed = cvops("run", str(bad), env=service_env, cwd=tmp_path)
    assert failed.exit_code == 3, failed.output
    assert "smoke test hemlock_1.jpg: top tag 'Hemlock'" in failed.stderr
    assert "expected 'Japanese Cherry'" in failed.stderr and "nothing is published" in failed.stderr
    trainer, project = sdk(bad, service_env)
    assert sorted(t.name for t in trainer.get_tags(project.id)) == ["Hemlock", "Japanese Cherry"]
    assert published(trainer, project, "trees") == {}

    good = write_config(tmp_path / "good.yaml", base=TREES, project={"name": name})
    plan = cvops("plan", str(good), env=service_env, cwd=tmp_path)
    assert "training: not needed" in plan.stdout and "0 to upload" in plan.stdout
    passed = cvops("run", str(good), env=service_env, cwd=tmp_path)
    assert passed.exit_code == 0, passed.output
    report = json.loads((tmp_path / "out" / "trees" / "report.json").read_text())
    assert not report["training"]["trained"] and report["outcome"] == "published"
    assert published(trainer, project, "trees") == {"Iteration 1": "trees"}


def test_throttled_and_interrupted_upload_completes_without_double_uploads(fresh_service, datasets, tmp_path):
    fresh_service.extra_args = ["--faults", "429=0.3,seed=3"]  # seeded, as the other fault tests: no 8-in-a-row by chance
    service = fresh_service.start()
    env = {**service.environment(), "CVOPS_DATASETS": str(datasets)}
    config = write_config(tmp_path / "throttled.yaml", project={"name": unique("Throttled")}, smoke_test=[],
                          upload={"batch_images": 16})
    # an earlier run that died between uploading 5 images and recording their hashes
    from azure.cognitiveservices.vision.customvision.training.models import ImageFileCreateBatch, \
        ImageFileCreateEntry
    loaded = load_config(config, env)
    trainer = training_client(loaded.config.service)
    project = trainer.create_project(loaded.config.project.name)
    tag = trainer.create_tag(project.id, "apple")
    early = sorted((datasets / "fruit" / "apple").iterdir())[:5]
    trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=[
        ImageFileCreateEntry(name=p.name, contents=p.read_bytes(), tag_ids=[tag.id]) for p in early]))

    run = cvops("run", str(config), "--verbose", env=env, cwd=tmp_path)
    assert run.exit_code == 0, run.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["retries"] > 0 and "HTTP 429" in run.stderr
    assert report["uploads"]["uploaded"] == 40 and report["uploads"]["duplicates"] == 5
    images = []
    for skip in (0, 256):
        images += trainer.get_tagged_images(project.id, take=256, skip=skip)
    identities = image_map.identify((im.id, im.metadata) for im in images).by_image
    assert len(images) == 45 and len(set(identities.values())) == 45
    again = cvops("run", str(config), env=env, cwd=tmp_path)
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "out" / "report.json").read_text())["uploads"]["uploaded"] == 0
    no_secrets(service, run.output, again.output)
