"""Issue 27 on grocery photos (a lean subset: 8 products, 25 photos each, 10 labels flipped with a fixed seed,
read where they are through a CSV manifest): the run's report has the confusion of 8 tags and the suspects,
`cvops suspects` puts the flipped photos at the top, and once the labels are put right `cvops diff` lists exactly
those photos as retagged. The full measurement (2,640 photos, 5% flipped) is `make bench`'s suspects section."""
from __future__ import annotations

import csv
import json
import random

import pytest

from harness.pipeline import cvops, unique, write_config

pytestmark = [pytest.mark.datasets, pytest.mark.slow]

PRODUCTS = ("Banana", "Carrots", "Cucumber", "Granny-Smith", "Lemon", "Lime", "Oatly-Oat-Milk", "Royal-Gala")
PER_PRODUCT, FLIPPED, SEED = 25, 10, 27


def write_manifest(path, photos, labels):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "tags"])
        writer.writerows([str(photo), labels[photo]] for photo in photos)


@pytest.fixture(scope="module")
def grocery(tmp_path_factory, pipeline_service, datasets):
    tmp = tmp_path_factory.mktemp("insight-grocery")
    root = datasets / "grocery-store" / "train"
    photos = [p for product in PRODUCTS for p in sorted((root / product).glob("*.jpg"))[:PER_PRODUCT]]
    truth = {p: p.parent.name for p in photos}
    rng = random.Random(SEED)
    flipped = {p: rng.choice([t for t in PRODUCTS if t != truth[p]]) for p in rng.sample(photos, FLIPPED)}
    manifest = tmp / "grocery.csv"
    write_manifest(manifest, photos, {**truth, **flipped})
    env = {**pipeline_service.environment(), "CVOPS_DATASETS": str(datasets)}
    config = write_config(tmp / "grocery.yaml", project={"name": unique("Grocery insight"), "domain": "Retail"},
                          dataset={"path": str(manifest), "layout": "manifest"}, gates=None, smoke_test=None)
    done = cvops("run", str(config), env=env, cwd=tmp, timeout=600)
    assert done.exit_code == 0, done.output
    return {"tmp": tmp, "env": env, "config": config, "manifest": manifest, "photos": photos, "truth": truth,
            "flipped": flipped, "report": json.loads((tmp / "out" / "report.json").read_text())}


def test_the_flipped_labels_are_the_top_suspects(grocery):
    done = cvops("suspects", str(grocery["config"]), "--json", env=grocery["env"], cwd=grocery["tmp"])
    assert done.exit_code == 0, done.output
    listed = json.loads(done.stdout)
    assert listed["held_out_images"] == listed["trained_images"] == len(grocery["photos"])
    top = listed["suspects"][:FLIPPED]
    flipped = {str(p): (wrong, grocery["truth"][p]) for p, wrong in grocery["flipped"].items()}
    found = [s for s in top if s["name"] in flipped]
    assert len(found) >= 0.6 * FLIPPED, [(s["name"], s["score"]) for s in top]  # the bench's target, in small
    assert all(s["given"] == flipped[s["name"]][0] for s in found)
    assert sum(s["suggested"] == flipped[s["name"]][1] for s in found) >= len(found) - 1
    assert [s["name"] for s in grocery["report"]["suspects"]["images"][:FLIPPED]] == [s["name"] for s in top]


def test_the_report_has_the_confusion_of_every_product(grocery):
    confusion = grocery["report"]["confusion"]
    assert confusion["tags"] == sorted(PRODUCTS) and len(confusion["matrix"]) == len(PRODUCTS)
    assert sum(map(sum, confusion["matrix"])) == len(grocery["photos"])
    per_tag = confusion["per_tag"]
    given = {t: sum(1 for p in grocery["photos"] if {**grocery["truth"], **grocery["flipped"]}[p] == t)
             for t in PRODUCTS}
    assert {t: c["images"] for t, c in per_tag.items()} == given
    assert all(c["tp"] + c["fn"] == c["images"] for c in per_tag.values())
    assert sum(c["fp"] for c in per_tag.values()) == sum(c["fn"] for c in per_tag.values())  # Multiclass
    assert confusion["pairs"] and confusion["pairs"][0]["rate"] == max(p["rate"] for p in confusion["pairs"])


def test_putting_the_labels_right_is_a_diff_of_exactly_those_photos(grocery):
    version = grocery["report"]["training"]["dataset"]["version"]
    write_manifest(grocery["manifest"], grocery["photos"], grocery["truth"])
    done = cvops("diff", str(grocery["config"]), env=grocery["env"], cwd=grocery["tmp"])
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"from\tdataset {version} ({len(grocery['photos'])} images), Iteration 1's manifest")
    retagged = sorted(line for line in lines if line.startswith("retagged\t"))
    assert retagged == sorted(f"retagged\t{p}\t{wrong} -> {grocery['truth'][p]}"
                              for p, wrong in grocery["flipped"].items())
    assert lines[-1] == f"summary\t0 added, 0 removed, {FLIPPED} retagged"
