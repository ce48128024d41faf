"""Issue 24: object detection as code. `cvops run` on a Pascal VOC copy of part of `animals-detection` (15 images a
tag, read in place, annotations copied so a test may edit them) against the real service, through the official SDK
and a counting proxy: published through mAP gates and smoke tests that expect objects; a rerun is a no-op; COCO
and YOLO copies made from the VOC files give the project's very regions; a moved box is one region update;
relabelled, added and removed boxes are planned and left alone by add-only; the mass-delete limit covers
regions; classify prints and draws boxes; the detection iteration exports; the held-out confusion of boxes
(report, gate, status --confusion) agrees with the service's precision and recall. Two trainings in all."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from harness.box_formats import voc_copy, voc_to_coco, voc_to_yolo
from harness.counting_proxy import CountingProxy
from harness.pipeline import ROOT, cvops, unique, write_config
from pipeline.config.loader import load_config
from pipeline.sdk.clients import training_client

pytestmark = [pytest.mark.datasets, pytest.mark.slow]

ANIMALS = ROOT / "config" / "animals.yaml"
PER_TAG = 15  # Azure's least for training a tag
LEFT_OUT = {"raccoon-116", "raccoon-83", "raccoon-74", "raccoon-98", "kangaroo-00033"}  # copies of other images
UPLOAD, LISTING = ("POST", "/images/files"), ("GET", "/{id}/images")
CREATE_REGIONS, DELETE_REGIONS = ("POST", "/images/regions"), ("DELETE", "/images/regions")


def subset(animals: Path) -> list[str]:
    stems = [s for s in (animals / "train.txt").read_text().split() if s not in LEFT_OUT]
    return [s for s in stems if s.startswith("kangaroo")][:PER_TAG] + \
           [s for s in stems if s.startswith("raccoon")][:PER_TAG]


class Story:
    """The module's project: its data, the proxy in front of the service, the config, the latest run."""

    def __init__(self, animals: Path, folder: Path, proxy: CountingProxy, env: dict[str, str]):
        self.animals, self.folder, self.proxy, self.env = animals, folder, proxy, env
        self.stems = subset(animals)
        self.voc = voc_copy(animals, self.stems, folder / "voc")
        self.name = unique("Animals")

    def config(self, path: Path | None = None, layout: str = "pascal-voc", file: str = "voc.yaml", **dataset):
        smoke = self.animals / "images" / f"{self.stems[-1]}.jpg"  # a training photo: this checks the pipeline
        return write_config(self.folder / file, ANIMALS, project={"name": self.name},
                            dataset={"path": str(path or self.voc), "layout": layout, "split": None,
                                     "exclude": [], **dataset},
                            gates={"mean_average_precision": 0.01, "per_tag": {"raccoon": {"average_precision": 0.01}},
                                   "no_regression": {"tolerance": 1.0}, "confusion": {"max_pair_rate": 1.0}},
                            smoke_test=[{"image": str(smoke), "expect": "raccoon", "min_probability": 0.05}])

    def run(self, config: Path, *flags: str):
        self.proxy.reset()
        done = cvops("run", str(config), *flags, env=self.env, cwd=self.folder, timeout=900)
        report_path = self.folder / "out" / ("animals-report.json" if done.exit_code == 0 else
                                             "animals-report.failed.json")
        return done, json.loads(report_path.read_text()) if report_path.exists() else None

    def regions(self) -> dict[str, list[tuple]]:
        """The project's regions by image file name (read through the SDK: the original's name is the hash)."""
        loaded = load_config(self.config(), self.env)
        trainer = training_client(loaded.config.service)
        project = next(p for p in trainer.get_projects() if p.name == self.name)
        images = trainer.get_images(project.id, take=256)
        by_hash = {_sha(self.animals / "images" / f"{s}.jpg"): s for s in self.stems}
        import requests
        found = {}
        for image in images:
            sha = _sha_bytes(requests.get(image.original_image_uri, timeout=30).content)
            found[by_hash[sha]] = sorted((r.tag_name, r.left, r.top, r.width, r.height) for r in image.regions)
        return found


def _sha(path: Path) -> str:
    return _sha_bytes(path.read_bytes())


def _sha_bytes(data: bytes) -> str:
    import hashlib
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def story(cvlocal_service, datasets, tmp_path_factory):
    with CountingProxy(cvlocal_service.endpoint) as proxy:
        env = {**cvlocal_service.environment(), "CUSTOM_VISION_TRAINING_ENDPOINT": proxy.endpoint,
               "CVOPS_DATASETS": str(datasets)}
        yield Story(datasets / "animals-detection", tmp_path_factory.mktemp("animals"), proxy, env)


def test_a_bad_box_is_refused_before_anything_is_sent(story):
    xml = story.voc / "annotations" / f"{story.stems[0]}.xml"
    good = xml.read_text()
    xml.write_text(good.replace("<xmax>", "<xmax>9", 1))  # a box far past the image's right edge
    try:
        done, _ = story.run(story.config())
        assert done.exit_code == 2, done.output
        assert f"{xml}: object 1: kangaroo: box" in done.stderr and "is outside the" in done.stderr
        assert story.proxy.total() == 0  # not a single request: nothing uploaded, no project made
    finally:
        xml.write_text(good)


def test_run_publishes_through_the_detection_gates(story):
    done, report = story.run(story.config())
    assert done.exit_code == 0, done.output
    assert report["outcome"] == "published" and report["dataset"]["images"] == 2 * PER_TAG
    assert report["uploads"]["uploaded"] == 2 * PER_TAG and story.proxy.count(*UPLOAD) == 1
    performance = report["performance"]
    assert performance["overlap_threshold"] == 0.5
    assert set(performance["overall"]) == {"precision", "recall", "mean_average_precision"}
    assert set(performance["per_tag"]) == {"kangaroo", "raccoon"}
    assert [g["gate"] for g in report["gates"]][:2] == ["mean_average_precision", "tag raccoon average_precision"]
    assert report["gates"][-1]["gate"].startswith("smoke test raccoon-") and report["gates"][-1]["passed"]
    markdown = (story.folder / "out" / "animals-report.md").read_text()
    assert "at threshold 0.5, overlap (IoU) 0.5" in markdown and "(AP: **mAP**)" in markdown
    expected = {}
    for stem in story.stems:  # the VOC boxes, normalised, are the project's regions
        annotated = Image.open(story.animals / "images" / f"{stem}.jpg").size
        import xml.etree.ElementTree as ET
        root = ET.parse(story.voc / "annotations" / f"{stem}.xml").getroot()
        expected[stem] = sorted((o.findtext("name"), *_normalised(o.find("bndbox"), annotated))
                                for o in root.iter("object"))
    assert_same_regions(story.regions(), expected)


def test_the_held_out_confusion_of_boxes_agrees_with_the_services_precision_and_recall(story):
    """The run's confusion (issue 27, detection): per-tag TP/FP/FN of the held-out boxes that, matched in the
    pipeline, give the very precision and recall the service computes; status --confusion reads them again."""
    report = json.loads((story.folder / "out" / "animals-report.json").read_text())
    confusion = report["confusion"]
    assert (confusion["kind"], confusion["unit"], confusion["overlap_threshold"]) == ("detection", "box", 0.5)
    assert confusion["held_out_images"] == confusion["trained_images"] == 2 * PER_TAG
    assert confusion["boxes"] == sum((story.voc / "annotations" / f"{s}.xml").read_text().count("<object>")
                                     for s in story.stems)
    assert "classification's" in report["suspects"]["skipped"]
    for tag, counts in confusion["per_tag"].items():
        service = report["performance"]["per_tag"][tag]
        assert counts["tp"] + counts["fn"] == counts["boxes"] > 0, tag
        assert service["recall"] == pytest.approx(counts["tp"] / counts["boxes"]), tag
        predicted = counts["tp"] + counts["fp"]
        assert service["precision"] == pytest.approx(counts["tp"] / predicted if predicted else 0.0), tag
    for pair in confusion["pairs"]:
        assert pair["boxes"] <= confusion["per_tag"][pair["given"]]["fn"]
        assert pair["rate"] == pytest.approx(pair["boxes"] / confusion["per_tag"][pair["given"]]["boxes"])
    print(f"\nheld-out boxes at threshold 0.5, IoU 0.5: {confusion['per_tag']}; pairs {confusion['pairs']}")
    gate = next(g for g in report["gates"] if g["gate"] == "worst confused pair")
    assert gate["passed"] and gate["value"] == (confusion["pairs"][0]["rate"] if confusion["pairs"] else 0.0)
    markdown = (story.folder / "out" / "animals-report.md").read_text()
    assert "| tag | labelled boxes | TP | FP | FN |" in markdown and "### Suspect labels\n\nNot read" in markdown

    for copy in (story.folder / "out" / "datasets").glob("heldout-*.json"):
        copy.unlink()  # status reads the service again, not the run's copy
    done = cvops("status", str(story.config()), "--confusion", "--json", env=story.env, cwd=story.folder)
    assert done.exit_code == 0, done.output
    again = json.loads(done.stdout)["confusion"]
    assert (again["per_tag"], again["pairs"], again["matrix"]) == (confusion["per_tag"], confusion["pairs"],
                                                                   confusion["matrix"])
    text = cvops("status", str(story.config()), "--confusion", env=story.env, cwd=story.folder).stdout
    c = confusion["per_tag"]["raccoon"]
    assert f"  boxes\traccoon\t{c['boxes']} labelled\tTP {c['tp']}\tFP {c['fp']}\tFN {c['fn']}" in text
    refused = cvops("suspects", str(story.config()), env=story.env, cwd=story.folder)
    assert refused.exit_code == 2 and "suspect labels are classification's" in refused.stderr


def _normalised(box, size) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
    w, h = size
    return x1 / w, y1 / h, (min(x2, w) - x1) / w, (min(y2, h) - y1) / h


def assert_same_regions(found: dict, expected: dict) -> None:
    assert found.keys() == expected.keys()
    for stem, regions in expected.items():
        assert len(found[stem]) == len(regions), stem
        for a, b in zip(found[stem], regions):
            assert a[0] == b[0] and max(abs(x - y) for x, y in zip(a[1:], b[1:])) <= 1e-6, (stem, a, b)


def test_a_rerun_and_the_coco_and_yolo_copies_change_nothing(story):
    for config in (story.config(),
                   story.config(voc_to_coco(story.voc, story.stems, story.folder / "coco"), "coco", "coco.yaml"),
                   story.config(voc_to_yolo(story.voc, story.stems, story.folder / "yolo"), "yolo", "yolo.yaml")):
        done, report = story.run(config)
        assert done.exit_code == 0, done.output
        assert report["outcome"] == "up-to-date", config
        assert report["uploads"]["uploaded"] == 0 and report["sync"]["regions"]["images"] == 0, config
        assert story.proxy.count(*UPLOAD) == 0 and story.proxy.count(*CREATE_REGIONS) == 0
        assert story.proxy.count(*DELETE_REGIONS) == 0 and story.proxy.count(*LISTING) == 1
        assert report["training"]["trained"] is False
        print(f"\nno-op rerun ({config.name}): {done.seconds:.1f} s, {story.proxy.total()} requests, "
              f"steps {report['timings']['total']:.1f} s")


def test_classify_prints_and_draws_the_boxes(story):
    image = story.animals / "images" / f"{story.stems[-1]}.jpg"
    config = story.config()
    done = cvops("classify", str(config), str(image), "--threshold", "0.05", "--output", "json", env=story.env,
                 cwd=story.folder)
    assert done.exit_code == 0, done.output
    (result,) = json.loads(done.stdout)
    width, height = Image.open(image).size
    assert result["size"] == [width, height] and result["objects"]
    first = result["objects"][0]
    assert first["tag"] in ("kangaroo", "raccoon") and first["probability"] >= 0.05
    assert first["box"]["left"] == round(first["normalised"]["left"] * width)
    assert [o["probability"] for o in result["objects"]] == sorted((o["probability"] for o in result["objects"]),
                                                                   reverse=True)
    csv = cvops("classify", str(config), str(image), "--threshold", "0.05", "--output", "csv", env=story.env,
                cwd=story.folder)
    lines = csv.stdout.splitlines()
    assert lines[0] == "image,tag,probability,left,top,width,height,left_normalised,top_normalised," \
                       "width_normalised,height_normalised"
    assert len(lines) == 1 + len(result["objects"])
    drawn = story.folder / "drawn"
    text = cvops("classify", str(config), str(image), "--threshold", "0.05", "--draw", str(drawn), env=story.env,
                 cwd=story.folder)
    assert text.exit_code == 0 and f"{first['tag']}" in text.stdout and str(first["box"]["width"]) in text.stdout
    picture = Image.open(drawn / f"{image.stem}.jpg")
    assert picture.size == (width, height)
    box = first["box"]
    edge = picture.convert("RGB").getpixel((box["left"] + box["width"] // 2, min(box["top"] + 1, height - 1)))
    original = Image.open(image).convert("RGB").getpixel((box["left"] + box["width"] // 2, min(box["top"] + 1,
                                                                                                 height - 1)))
    assert edge != original  # the box's outline is drawn there


def test_moving_one_box_is_one_region_update(story):
    stem = story.stems[3]
    xml = story.voc / "annotations" / f"{stem}.xml"
    text = xml.read_text()
    start = text.index("<xmin>") + len("<xmin>")
    value = int(float(text[start:text.index("</xmin>")]))
    xml.write_text(text[:start] + str(value + 5) + text[text.index("</xmin>"):])  # the left edge moves 5 px
    done, report = story.run(story.config())
    assert done.exit_code == 0, done.output
    assert story.proxy.count(*DELETE_REGIONS) == 1 and story.proxy.count(*CREATE_REGIONS) == 1
    assert story.proxy.count(*UPLOAD) == 0
    assert report["sync"]["regions_updated"] == [f"images/{stem}.jpg: 1 box moved"]
    assert (report["sync"]["regions_created"], report["sync"]["regions_deleted"]) == (1, 1)
    assert "updated the regions of 1 image(s) as the dataset says (1 deleted, 1 created)" in done.stderr
    assert report["training"]["trained"] is True and report["outcome"] == "published"


def test_relabelled_added_and_removed_boxes_are_planned_and_left_alone_by_add_only(story):
    """What retag would do is planned (read-only) and add-only leaves it, with a warning; applying such changes is
    the moved box's path above (one deletion call and one creation call whatever they are), so no training here."""
    raccoon, kangaroo = (story.voc / "annotations" / f"{s}.xml" for s in (story.stems[-2], story.stems[0]))
    original = {raccoon: raccoon.read_text(), kangaroo: kangaroo.read_text()}
    text = original[raccoon]
    obj = text[text.index("<object>"):text.index("</object>") + len("</object>")]
    raccoon.write_text(text.replace(obj, obj + obj.replace("<name>raccoon</name>", "<name>kangaroo</name>")))
    k = original[kangaroo]
    assert k.count("<object>") == 2  # kangaroo-00001: its first box becomes a raccoon, its second goes
    last = k.rindex("<object>")
    k = k[:last] + k[k.index("</object>", last) + len("</object>"):]
    kangaroo.write_text(k.replace("<name>kangaroo</name>", "<name>raccoon</name>", 1))
    try:
        planned = cvops("plan", str(story.config()), "--json", env=story.env, cwd=story.folder)
        assert planned.exit_code == 0, planned.output
        regions = json.loads(planned.stdout)["sync"]["regions"]
        assert (regions["images"], regions["delete"], regions["create"], regions["applied"]) == (2, 2, 2, True)
        assert sorted(regions["files"]) == sorted([f"images/{story.stems[-2]}.jpg: 1 box added",
                                                   f"images/{story.stems[0]}.jpg: 1 box relabelled, 1 box removed"])
        assert json.loads(planned.stdout)["training"]["needed"] is True
        text = cvops("plan", str(story.config()), "-v", env=story.env, cwd=story.folder).stdout
        assert "boxes differ from the dataset: 2 image(s), 2 region(s) to delete and 2 to create: update them" in text

        done, report = story.run(story.config(sync="add-only"))
        assert done.exit_code == 0, done.output
        assert story.proxy.count(*CREATE_REGIONS) == 0 and story.proxy.count(*DELETE_REGIONS) == 0
        assert "2 image(s) have other regions in the project than in the dataset, left alone" in done.stderr
        assert report["sync"]["regions"]["applied"] is False and report["training"]["trained"] is False
    finally:
        for path, text in original.items():
            path.write_text(text)


def test_removing_many_boxes_is_held_by_the_mass_delete_limit(story):
    originals = {}
    for stem in story.stems[:PER_TAG]:  # every kangaroo photo loses its boxes: more than 10% of the regions
        xml = story.voc / "annotations" / f"{stem}.xml"
        originals[xml] = xml.read_text()
        text = originals[xml]
        xml.write_text(text[:text.index("<object>")] + "</annotation>")
    try:
        done, _ = story.run(story.config(require_boxes=False))
        assert done.exit_code == 2, done.output
        assert "the sync would remove" in done.stderr and "so nothing was changed" in done.stderr
        assert story.proxy.count(*DELETE_REGIONS) == 0 and story.proxy.count(*CREATE_REGIONS) == 0
    finally:
        for xml, text in originals.items():
            xml.write_text(text)
    done, report = story.run(story.config())  # the boxes back as they were: nothing to change
    assert done.exit_code == 0 and report["outcome"] == "up-to-date", done.output


def test_the_detection_iteration_exports(story):
    out = story.folder / "export"
    done = cvops("export-model", str(story.config()), "--platform", "ONNX", "--output", str(out), env=story.env,
                 cwd=story.folder)
    assert done.exit_code == 0, done.output
    (package,) = out.glob("*.zip")
    with zipfile.ZipFile(package) as archive:
        assert any(name.endswith(".onnx") for name in archive.namelist())
