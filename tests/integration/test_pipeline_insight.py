"""Issue 27, know your data, on the fruit set against the self-hosted service through the official SDK: the
dataset version each training records (manifest beside the report, version in the project's description),
`cvops diff` between iterations and the working tree, the held-out confusion and the suspect labels in the
report and in `status --confusion` / `suspects`, their gates, and the bad input the issue lists.

One project for the module: the fruit photos with two of them in the wrong tag folder. The first run fails the
confusion and suspects gates (nothing published), the second publishes the iteration the first trained."""
from __future__ import annotations

import json
import shutil
import time

import pytest
from azure.cognitiveservices.vision.customvision.training.models import ImageFileCreateBatch, ImageFileCreateEntry

from harness.pipeline import cvops, unique, write_config
from pipeline.config.loader import load_config
from pipeline.sdk.clients import training_client

pytestmark = [pytest.mark.datasets, pytest.mark.slow]

MISLABELLED = {"apple/IMG_20200229_164804.jpg": "banana", "orange/IMG_20200229_165132.jpg": "apple"}


class Fruit:
    def __init__(self, tmp, env, datasets):
        self.tmp, self.env, self.data = tmp, env, tmp / "fruit"
        shutil.copytree(datasets / "fruit", self.data)
        self.moved = {}
        for path, wrong in MISLABELLED.items():
            target = self.data / wrong / path.split("/")[1]
            shutil.move(self.data / path, target)
            self.moved[f"{wrong}/{target.name}"] = path.split("/")[0]  # where it is -> its true tag
        self.name = unique("Know your data")
        self.config = write_config(tmp / "fruit.yaml", project={"name": self.name},
                                   dataset={"path": str(self.data), "sync": "mirror"}, smoke_test=None, gates=None)

    def cvops(self, *args, expect=0):
        done = cvops(*args, env=self.env, cwd=self.tmp)
        assert done.exit_code == expect, done.output
        return done

    def trainer_and_project(self):
        trainer = training_client(load_config(self.config, self.env).config.service)
        return trainer, next(p for p in trainer.get_projects() if p.name == self.name)

    def report(self, name="report.json"):
        return json.loads((self.tmp / "out" / name).read_text())

    def untouched(self) -> tuple:
        """What a read-only command must leave as it is: the report folder and the project's description."""
        _, project = self.trainer_and_project()
        files = sorted((p.relative_to(self.tmp), p.stat().st_mtime_ns) for p in (self.tmp / "out").rglob("*"))
        return files, project.description


@pytest.fixture(scope="module")
def fruit(tmp_path_factory, pipeline_service, datasets):
    tmp = tmp_path_factory.mktemp("insight")
    found = Fruit(tmp, {**pipeline_service.environment(), "CVOPS_DATASETS": str(datasets)}, datasets)
    gated = write_config(tmp / "gated.yaml", base=found.config,
                         gates={"confusion": {"max_pair_rate": 0.05}, "suspects": {"min_score": 0.3, "max_count": 0}})
    found.gated = found.cvops("run", str(gated), expect=3)
    found.first = found.report()
    found.published = found.cvops("run", str(found.config))
    return found


def test_the_gates_fail_on_the_mislabelled_photos_and_nothing_is_published(fruit):
    report = fruit.first
    assert report["outcome"] == "gate-failed" and report["publish"] == {}
    gates = {g["gate"]: g for g in report["gates"]}
    worst = gates["worst confused pair"]
    assert not worst["passed"] and worst["at_most"] and worst["threshold"] == 0.05 and worst["value"] > 0.05
    suspects = gates["suspect labels (score > 0.3)"]
    assert not suspects["passed"] and suspects["value"] >= 2 and suspects["margin"] == -suspects["value"]
    assert "gate FAIL: suspect labels (score > 0.3)" in fruit.gated.stderr
    assert "ok: published: Iteration 1 published as 'groceries'" in fruit.published.stdout


def test_each_training_records_its_dataset_version(fruit):
    trained = fruit.first["training"]["dataset"]
    version = trained["version"]
    assert trained["recorded"] and trained["images"] == 45 and fruit.first["dataset"]["version"] == version
    manifest = json.loads((fruit.tmp / "out" / "datasets" / f"{version}.json").read_text())
    assert manifest["format"] == "cvops-dataset/1" and manifest["version"] == version
    assert manifest["iteration"]["name"] == "Iteration 1" and manifest["project"]["name"] == fruit.name
    tags = {image["path"]: image["tags"] for image in manifest["images"]}
    assert len(tags) == 45 and all(tags[path] == [path.split("/")[0]] for path in fruit.moved)
    # the published run trained nothing and found the version recorded: no second listing, same version
    assert fruit.report()["training"]["dataset"] == {"version": version, "recorded": True,
                                                       "manifest": f"out/datasets/{version}.json"}
    trainer, project = fruit.trainer_and_project()
    iteration = next(i for i in trainer.get_iterations(project.id) if i.name == "Iteration 1")
    assert f"cvops:dataset {iteration.id} {version}" in project.description.splitlines()
    status = fruit.cvops("status", str(fruit.config))
    assert f"dataset version: {version}" in status.stdout and f"published as 'groceries'  dataset {version}" in status.stdout
    assert json.loads(fruit.cvops("status", str(fruit.config), "--json").stdout)["dataset_version"] == version
    assert "- Dataset version: `" + version + "` (the working tree's); recorded in the project" in \
        (fruit.tmp / "out" / "report.md").read_text()


def test_the_confusion_of_the_held_out_predictions(fruit):
    confusion = fruit.first["confusion"]
    assert confusion["held_out_images"] == confusion["trained_images"] == 45 and confusion["tags"] == [
        "apple", "banana", "orange"]
    assert sum(map(sum, confusion["matrix"])) == 45
    pairs = {(p["given"], p["predicted"]): p for p in confusion["pairs"]}
    # the apple photo in banana/ looks like an apple; the orange in apple/ like an orange
    assert pairs[("banana", "apple")]["images"] >= 1 and pairs[("apple", "orange")]["images"] >= 1
    rates = [p["rate"] for p in confusion["pairs"]]
    assert rates == sorted(rates, reverse=True)
    markdown = (fruit.tmp / "out" / "report.md").read_text()
    assert "### Most confused tags (held out: 45 image(s))" in markdown and "| banana | apple | " in markdown
    shown = fruit.cvops("status", str(fruit.config), "--confusion", "--top", "1").stdout
    worst = confusion["pairs"][0]
    assert (f"  confused\t{worst['given']} -> {worst['predicted']}\t{worst['images']} image(s)\t"
            f"{worst['rate']:.1%} of {worst['given']}") in shown
    assert sum(line.startswith("  confused\t") for line in shown.splitlines()) == 1
    full = json.loads(fruit.cvops("status", str(fruit.config), "--confusion", "--json").stdout)["confusion"]
    assert full["matrix"] == confusion["matrix"]
    # the run kept the held-out predictions beside the manifests; a broken copy is read again from the service
    kept = fruit.tmp / "out" / "datasets" / f"heldout-{fruit.first['training']['iteration_id']}.json"
    assert json.loads(kept.read_text())["format"] == "cvops-heldout/1"
    kept.write_text("{broken")
    again = json.loads(fruit.cvops("status", str(fruit.config), "--confusion", "--json").stdout)["confusion"]
    assert again["matrix"] == confusion["matrix"] and kept.read_text() == "{broken"  # status writes nothing


def test_suspects_name_the_mislabelled_files_first(fruit):
    listed = fruit.cvops("suspects", str(fruit.config)).stdout.splitlines()
    assert listed[0].startswith("# Iteration 1 (published as 'groceries'): ")
    rows = [line.split("\t") for line in listed if not line.startswith("#")]
    assert {row[1] for row in rows[:2]} == set(fruit.moved)
    for score, path, given, suggested in rows[:2]:
        assert given == path.split("/")[0] and suggested == fruit.moved[path] and float(score) > 0.3
    data = json.loads(fruit.cvops("suspects", str(fruit.config), "--json", "--top", "1").stdout)
    assert len(data["suspects"]) == 1 and data["count"] == len(rows) and data["held_out_images"] == 45
    assert [s["name"] for s in fruit.first["suspects"]["images"][:2]] == [row[1] for row in rows[:2]]
    markdown = (fruit.tmp / "out" / "report.md").read_text()
    assert "### Suspect labels" in markdown and f"| `{rows[0][1]}` |" in markdown
    everything = json.loads(fruit.cvops("suspects", str(fruit.config), "--all", "--json").stdout)
    assert everything["count"] == 45 and everything["every"]
    assert [s["name"] for s in everything["suspects"][:2]] == [row[1] for row in rows[:2]]
    assert fruit.cvops("suspects", str(fruit.config), "--min-score", "1", expect=2).stderr.count(
        "not a score from 0 to 1") == 1


def test_diff_from_the_published_iteration_to_the_working_tree_and_between_iterations(fruit, datasets):
    same = fruit.cvops("diff", str(fruit.config)).stdout.splitlines()
    assert same[-1] == "summary\tthe same dataset version" and same[0].startswith("from\tdataset ")
    version = fruit.first["training"]["dataset"]["version"]
    assert f"dataset version: {version}, the one the published iteration trained on" in fruit.cvops(
        "plan", str(fruit.config)).stdout
    # The photos go back where they belong, one orange goes, two new photos come.
    for path, true in fruit.moved.items():
        shutil.move(fruit.data / path, fruit.data / true / path.split("/")[1])
    (fruit.data / "orange" / "IMG_20200229_165108.jpg").unlink()
    for extra in ("apple/apple5.jpg", "banana/banana4.jpg"):
        shutil.copy(datasets / "fruit-extra" / extra, fruit.data / extra)
    before = fruit.untouched()
    shown = fruit.cvops("diff", str(fruit.config)).stdout
    assert fruit.untouched() == before  # nothing written, here or on the service
    planned = json.loads(fruit.cvops("plan", str(fruit.config), "--json").stdout)["dataset"]
    assert planned["published_version"] == version and planned["version"] != version
    changes = [line for line in shown.splitlines() if line.split("\t")[0] in ("added", "removed", "retagged")]
    assert changes == ["added\tapple/apple5.jpg\tapple", "added\tbanana/banana4.jpg\tbanana",
                       "removed\torange/IMG_20200229_165108.jpg\torange",
                       "retagged\tapple/IMG_20200229_164804.jpg\tbanana -> apple",
                       "retagged\torange/IMG_20200229_165132.jpg\tapple -> orange"]
    assert [line for line in shown.splitlines() if line.startswith("tag\t")] == [
        "tag\tapple\t15 -> 16\t+2 -1", "tag\tbanana\t16 -> 16\t+1 -1", "tag\torange\t14 -> 14\t+1 -1"]
    assert shown.splitlines()[-1] == "summary\t2 added, 1 removed, 2 retagged"
    counts = json.loads(fruit.cvops("diff", str(fruit.config), "--json").stdout)["counts"]
    assert counts == {"added": 2, "removed": 1, "retagged": 2, "boxes": 0}

    fruit.cvops("run", str(fruit.config))
    report = fruit.report()
    assert report["training"]["iteration"] == "Iteration 2" and report["training"]["trained"]
    assert report["training"]["dataset"]["version"] == report["dataset"]["version"]
    between = fruit.cvops("diff", str(fruit.config), "--from", "Iteration 1", "--to", "iteration 2").stdout
    assert [line for line in between.splitlines() if line.split("\t")[0] in ("added", "removed", "retagged")] \
        == changes
    assert fruit.cvops("diff", str(fruit.config)).stdout.splitlines()[-1] == "summary\tthe same dataset version"


def test_bad_input_says_what_is_wrong_and_writes_nothing(fruit):
    trainer, project = fruit.trainer_and_project()

    def refused(*args: str) -> str:
        before = fruit.untouched()
        stderr = fruit.cvops(*args, expect=2).stderr
        assert fruit.untouched() == before
        return stderr

    missing = refused("diff", str(fruit.config), "--from", "Iteration 9")
    assert f"error: no iteration 'Iteration 9' in project {fruit.name!r} (iterations: Iteration 1" in missing

    # an iteration of another project
    other = trainer.create_project(unique("Other"))
    tags = [trainer.create_tag(other.id, name) for name in ("apple", "banana")]
    photos = [(p, tag) for tag in tags for p in sorted((fruit.data / tag.name).glob("*.jpg"))[:6]]
    trainer.create_images_from_files(other.id, ImageFileCreateBatch(images=[
        ImageFileCreateEntry(name=p.name, contents=p.read_bytes(), tag_ids=[t.id]) for p, t in photos]))
    theirs = _trained(trainer, other.id, trainer.train_project(other.id))
    crossed = refused("diff", str(fruit.config), "--from", theirs.id)
    assert (f"error: iteration {theirs.id} is 'Iteration 1' of project {other.name!r}, not of {fruit.name!r}: "
            "dataset versions compare within one project") in crossed

    # a manifest edited by hand, and one of another project
    version = fruit.report()["training"]["dataset"]["version"]
    kept = fruit.tmp / "out" / "datasets" / f"{version}.json"
    original = kept.read_text()
    edited = json.loads(original)
    edited["images"][0]["tags"] = ["orange" if edited["images"][0]["tags"] != ["orange"] else "apple"]
    kept.write_text(json.dumps(edited))
    by_hand = refused("diff", str(fruit.config), "--from", "Iteration 2")
    assert f"{version}.json: says version {version} but its images hash to " in by_hand
    assert "it was edited by hand" in by_hand
    kept.write_text(original)
    foreign = json.loads(original)
    foreign["project"] = {"name": "Someone else's", "id": other.id}
    (fruit.tmp / "foreign.json").write_text(json.dumps(foreign))
    crossed = refused("diff", str(fruit.config), "--from", str(fruit.tmp / "foreign.json"))
    assert f"is of project \"Someone else's\" ({other.id}), not of {fruit.name!r}" in crossed

    # a file the dataset names that is gone (a manifest layout)
    (fruit.tmp / "gone.csv").write_text(f"path,tags\n{fruit.data / 'apple' / 'nope.jpg'},apple\n")
    gone = write_config(fruit.tmp / "gone.yaml", base=fruit.config,
                        dataset={"path": str(fruit.tmp / "gone.csv"), "layout": "manifest"})
    deleted = refused("diff", str(gone))
    assert "gone.yaml:" in deleted and "nope.jpg: file not found" in deleted

    # the manifest of Iteration 1 deleted: the service's listing, which lacks the photo deleted since
    first = fruit.first["training"]["dataset"]["version"]
    (fruit.tmp / "out" / "datasets" / f"{first}.json").unlink()
    listed = fruit.cvops("diff", str(fruit.config), "--from", "Iteration 1", "--to", "Iteration 2").stdout
    assert (f"note\tIteration 1 trained on dataset version {first}, whose manifest is not in out/datasets; the "
            "service lists 44 of its images now") in listed
    assert "removed\t" not in listed and listed.count("retagged\t") == 2

    # an iteration trained outside cvops has no recorded version: said, and compared as listed
    untracked = _trained(trainer, project.id, trainer.train_project(project.id, force_train=True))
    compared = fruit.cvops("diff", str(fruit.config), "--from", untracked.name).stdout
    assert (f"note\t{untracked.name} has no recorded dataset version (trained before cvops recorded them, or "
            "outside cvops, e.g. in the portal)") in compared
    assert compared.splitlines()[-1] == "summary\tthe same dataset version"
    listed = json.loads(fruit.cvops("status", str(fruit.config), "--json").stdout)["iterations"]
    assert [i["dataset_version"] is None for i in listed] == [False, False, True]


def _trained(trainer, project_id, iteration):
    deadline = time.monotonic() + 120
    while iteration.status == "Training" and time.monotonic() < deadline:
        time.sleep(0.3)
        iteration = trainer.get_iteration(project_id, iteration.id)
    assert iteration.status == "Completed", iteration.training_error_details
    return iteration
