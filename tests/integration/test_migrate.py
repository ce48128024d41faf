"""`cvops export`, `import` and `migrate` between two self-hosted services (two processes, different keys), over
the official SDK: a 1,040-image Multiclass project A -> B -> A with the cvops process killed (-9) mid-export and
mid-import, a Multilabel project with a negative tag and untagged images, and the seed's Grocery Checkout
moved and trained while the source injects dropped connections, 429 and 503. Every side is read back by
downloading each original and hashing it here."""
from __future__ import annotations

import json

import pytest
from azure.cognitiveservices.vision.customvision.training.models import Project

from harness.pipeline import GROCERIES, Background, cvops
from harness.service import RunningService
from tests.integration import projects
from tests.integration.projects import contents, multiclass, multilabel, project_id, sdk, wait_until

pytestmark = pytest.mark.slow
BIG = "Checkout 1k"
MIX = "Colour mixes"


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    root = tmp_path_factory.mktemp("migrate")
    with RunningService(root / "a") as a, RunningService(root / "b") as b:
        assert a.training_key != b.training_key
        yield a, b


def keys(source, target) -> dict[str, str]:
    return {"CVOPS_SOURCE_TRAINING_KEY": source.training_key, "CVOPS_TARGET_TRAINING_KEY": target.training_key,
            "CVOPS_TARGET_PREDICTION_RESOURCE_ID": target.prediction_resource_id}


def image_files(folder) -> list:
    return [p for p in (folder / "images").rglob("*.jpg")] if (folder / "images").exists() else []


def test_1000_images_a_to_b_to_a_with_kills(services, tmp_path):
    a, b = services
    source = sdk(a)
    original_id = multiclass(source, BIG, per_tag=260)
    original = contents(source, original_id)
    assert len(original) == 1040
    env = keys(a, b)
    folder = tmp_path / "export"

    # kill -9 mid-export, then again: complete, each image fetched once in all
    run = Background("export", BIG, str(folder), "--from", a.endpoint, env=env, cwd=tmp_path)
    assert wait_until(lambda: len(image_files(folder)) >= 300), run.output
    run.process.kill()
    run.process.wait(10)
    before = len(image_files(folder))
    assert 300 <= before < 1040, f"not killed mid-export ({before} files)"
    rerun = cvops("export", BIG, str(folder), "--from", a.endpoint, "--json", env=env, cwd=tmp_path)
    assert rerun.exit_code == 0, rerun.output
    done = json.loads(rerun.stdout)
    assert done["images"] == 1040 and done["kept"] >= before - 8 and done["kept"] + done["downloaded"] == 1040
    assert done["tags"] == {colour: 260 for colour in ("blue", "green", "red", "yellow")}
    assert len(image_files(folder)) == 1040 and not list(folder.rglob(".part-*"))
    manifest = json.loads((folder / "manifest.json").read_text())["images"]
    assert {m["sha256"]: (m["tags"][0],) for m in manifest} == original
    assert all(m["path"] == f"images/{m['tags'][0]}/{m['id']}.jpg" for m in manifest)  # folder-per-tag
    record = json.loads((folder / "project.json").read_text())
    assert record["project"]["domain"] == "Retail" and record["project"]["classification_type"] == "Multiclass"
    assert {t["name"]: t["description"] for t in record["tags"]}["red"] == "mostly red"
    again = cvops("export", BIG, str(folder), "--from", a.endpoint, "--json", env=env, cwd=tmp_path)
    assert json.loads(again.stdout)["downloaded"] == 0, again.output

    # kill -9 mid-import, then again: complete, each image in B once
    target = sdk(b)
    run = Background("import", str(folder), "--to", b.endpoint, env=env, cwd=tmp_path)
    assert wait_until(lambda: (pid := project_id(target, BIG)) is not None
                      and target.get_tagged_image_count(pid) >= 128, timeout=180), run.output
    run.process.kill()
    run.process.wait(10)
    copy_id = project_id(target, BIG)
    assert target.get_tagged_image_count(copy_id) < 1040, "not killed mid-import"
    rerun = cvops("import", str(folder), "--to", b.endpoint, "--json", env=env, cwd=tmp_path, timeout=600)
    assert rerun.exit_code == 0, rerun.output
    assert target.get_tagged_image_count(copy_id) == 1040 and target.get_untagged_image_count(copy_id) == 0
    assert contents(target, copy_id) == original
    assert projects.tags(target, copy_id) == projects.tags(source, original_id)
    project = target.get_project(copy_id)
    assert project.settings.domain_id == source.get_project(original_id).settings.domain_id
    unchanged = cvops("import", str(folder), "--to", b.endpoint, "--json", env=env, cwd=tmp_path)
    assert unchanged.exit_code == 0, unchanged.output
    assert json.loads(unchanged.stdout)["uploaded"] == 0 and json.loads(unchanged.stdout)["unchanged"] == 1040

    # and back into A, under another name, in one command
    back = cvops("migrate", BIG, "--from", b.endpoint, "--to", a.endpoint, "--project", f"{BIG} back",
                 "--folder", str(tmp_path / "back"), "--json", env=keys(b, a), cwd=tmp_path, timeout=600)
    assert back.exit_code == 0, back.output
    summary = json.loads(back.stdout)
    assert summary["comparison"]["equal"] and summary["comparison"]["target"]["images"] == 1040
    assert "not copied" in summary["note"]
    assert contents(source, project_id(source, f"{BIG} back")) == original
    for key in (a.training_key, b.training_key):
        assert key not in back.output and key not in (tmp_path / "back" / "project.json").read_text()


def test_multilabel_round_trip(services, tmp_path):
    a, b = services
    source, target = sdk(a), sdk(b)
    original_id = multilabel(source, MIX)
    original = contents(source, original_id)
    # A hold names the source's iteration: a copy that kept it would never publish (nothing else in the text goes).
    held = f'colour mixes\ncvops:hold {{"publish": "mixes", "iteration_id": "{"0" * 36}", "iteration": "Iteration 1"}}'
    project = source.get_project(original_id)
    source.update_project(original_id, Project(name=project.name, description=held, settings=project.settings))
    assert sum(1 for t in original.values() if len(t) > 1) >= 30 and sum(1 for t in original.values() if not t) == 5

    there = cvops("migrate", MIX, "--from", a.endpoint, "--to", b.endpoint, "--folder", str(tmp_path / "there"),
                  env=keys(a, b), cwd=tmp_path)
    assert there.exit_code == 0, there.output
    assert "by SHA-256 equal" in there.stdout and "Iteration history is not copied" in there.stdout
    copy_id = project_id(target, MIX)
    assert target.get_project(copy_id).settings.classification_type == "Multilabel"
    assert target.get_project(copy_id).description == "colour mixes"
    assert contents(target, copy_id) == original
    assert projects.tags(target, copy_id) == projects.tags(source, original_id)
    assert projects.tags(target, copy_id)[projects.NEGATIVE] == ("no colour of ours", "Negative")

    back = cvops("migrate", MIX, "--from", b.endpoint, "--to", a.endpoint, "--project", f"{MIX} back",
                 "--folder", str(tmp_path / "back"), env=keys(b, a), cwd=tmp_path)
    assert back.exit_code == 0, back.output
    assert contents(source, project_id(source, f"{MIX} back")) == original


def test_grocery_checkout_moves_and_trains_while_the_source_fails(services, datasets, tmp_path):
    """The seed's project, published on a service that drops connections and answers 429 and 503, moved off it
    (trained, gated and published on the target) and back onto it."""
    _, target = services
    source = RunningService(tmp_path / "source")
    try:
        source.start()
        env = {**source.environment(), "CVOPS_DATASETS": str(datasets)}
        seeded = cvops("run", str(GROCERIES), env=env, cwd=tmp_path)
        assert seeded.exit_code == 0, seeded.output
        original = contents(sdk(source), project_id(sdk(source), "Grocery Checkout"))
        source.extra_args = ["--faults", "429=0.1,503=0.1,drop=0.1,retry-after=0,seed=11"]
        source.restart()
        moved = cvops("migrate", "Grocery Checkout", "--from", source.endpoint, "--to", target.endpoint,
                      "--project", "Grocery Checkout (moved)", "--gates", str(GROCERIES), "--json",
                      env={**keys(source, target), "CVOPS_DATASETS": str(datasets)}, cwd=tmp_path, timeout=600)
        assert moved.exit_code == 0, moved.output
        # and back onto it, faults and all, as a new project
        back = cvops("migrate", "Grocery Checkout (moved)", "--from", target.endpoint, "--to", source.endpoint,
                     "--project", "Grocery Checkout (back)", "--folder", str(tmp_path / "back"),
                     env=keys(target, source), cwd=tmp_path, timeout=600)
        assert back.exit_code == 0, back.output
        for fault in ("drop", "429", "503"):
            assert f"injected fault {fault}" in source.log()
        source.extra_args = []
        source.restart()
        assert contents(sdk(source), project_id(sdk(source), "Grocery Checkout (back)")) == original
    finally:
        source.stop()
    summary = json.loads(moved.stdout)
    assert summary["comparison"]["equal"] and summary["comparison"]["source"]["tags"] == {
        "apple": 15, "banana": 15, "orange": 15}
    assert contents(sdk(target), summary["target"]["id"]) == original
    metrics = summary["metrics"]
    assert metrics["source"]["publish_name"] == "groceries" and metrics["source"]["name"] == "Iteration 1"
    assert metrics["target"]["performance"]["overall"] == metrics["source"]["performance"]["overall"]
    assert summary["training"]["published"] == "groceries"
    assert {g["gate"] for g in summary["training"]["gates"]} >= {"precision", "smoke test apple5.jpg"}
    published = [i for i in sdk(target).get_iterations(summary["target"]["id"]) if i.publish_name == "groceries"]
    assert len(published) == 1
