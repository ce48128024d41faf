"""Box datasets (Pascal VOC, COCO, YOLO, Custom Vision's regions manifest) read into Custom Vision regions: the
same boxes from every format, EXIF orientation, clipping only where a format allows it, and every bad input
refused with its file and line (or object) before anything is uploaded."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from harness.box_formats import voc_copy, voc_to_coco, voc_to_yolo
from pipeline.cli import main
from pipeline.config import DatasetConfig
from pipeline.dataset import scan, validate
from pipeline.dataset.regions import turned
from pipeline.errors import DatasetError


def jpeg(path: Path, size=(60, 40), orientation: int = 1, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, (seed * 37 % 256, 90, 120))
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    img.save(path, "JPEG", exif=exif.tobytes())
    return path


def voc(path: Path, filename: str, size, objects, extra: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"<object><name>{n}</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax>"
                   f"<ymax>{d}</ymax></bndbox></object>" for n, a, b, c, d in objects)
    sized = f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>" if size else ""
    path.write_text(f"{extra}<annotation><filename>{filename}</filename>{sized}{body}</annotation>")
    return path


def voc_set(root: Path, images: dict[str, list]) -> Path:
    for seed, (stem, objects) in enumerate(images.items()):
        jpeg(root / "images" / f"{stem}.jpg", seed=seed)
        voc(root / "annotations" / f"{stem}.xml", f"{stem}.jpg", (60, 40), objects)
    return root


def boxes(dataset) -> dict[str, list[tuple]]:
    return {image.path.stem: sorted((r.tag, *(round(v, 6) for v in r.box)) for r in image.regions)
            for image in dataset.images}


def refused(config: DatasetConfig) -> str:
    with pytest.raises(DatasetError) as info:
        scan(config, detection=True)
    assert info.value.exit_code == 2
    return str(info.value)


@pytest.mark.datasets
def test_voc_coco_yolo_and_the_regions_manifest_give_the_same_regions(datasets, tmp_path):
    animals = datasets / "animals-detection"
    stems = [s for s in (animals / "train.txt").read_text().split() if s.startswith(("kangaroo-0001", "kangaroo-0002", "raccoon-2"))]
    from_voc = scan(DatasetConfig(path=voc_copy(animals, stems, tmp_path / "voc"), layout="pascal-voc"),
                    detection=True)
    from_coco = scan(DatasetConfig(path=voc_to_coco(animals, stems, tmp_path / "coco"), layout="coco"),
                     detection=True)
    from_yolo = scan(DatasetConfig(path=voc_to_yolo(animals, stems, tmp_path / "yolo"), layout="yolo"),
                     detection=True)
    manifest = tmp_path / "voc" / "manifest.json"
    manifest.write_text(json.dumps({"images": [
        {"path": f"images/{image.path.name}", "regions": [{"tag": r.tag, "left": r.left, "top": r.top,
                                                           "width": r.width, "height": r.height}
                                                          for r in image.regions]} for image in from_voc.images]}))
    from_manifest = scan(DatasetConfig(path=manifest, layout="manifest"), detection=True)
    assert len(from_voc.images) == len(stems) > 20
    expected = boxes(from_voc)
    for other in (from_coco, from_yolo, from_manifest):  # the same boxes to 1e-6, as the service keeps them
        found = boxes(other)
        assert found.keys() == expected.keys()
        for stem, regions in expected.items():
            assert len(found[stem]) == len(regions)
            for a, b in zip(found[stem], regions):
                assert a[0] == b[0] and max(abs(x - y) for x, y in zip(a[1:], b[1:])) <= 1.5e-6, (stem, a, b)
    assert {image.sha256 for image in from_coco.images} == {image.sha256 for image in from_voc.images}
    kangaroo = animals / "annotations" / "kangaroo-00010.xml"
    assert "kangaroo" in kangaroo.read_text() and len(expected["kangaroo-00010"]) >= 1
    assert from_voc.counts() == {"kangaroo": sum(s.startswith("k") for s in stems),
                                 "raccoon": sum(s.startswith("r") for s in stems)}


def test_a_box_a_pixel_past_the_edge_is_clipped_and_further_is_refused(tmp_path):
    root = voc_set(tmp_path / "d", {"a": [("cat", 0, 0, 61, 40)], "b": [("cat", 10, 10, 20, 20)]})
    dataset = scan(DatasetConfig(path=root, layout="pascal-voc"), detection=True)
    assert boxes(dataset)["a"] == [("cat", 0.0, 0.0, 1.0, 1.0)]  # VOC's 1-based pixels: clipped
    voc(root / "annotations" / "a.xml", "a.jpg", (60, 40), [("cat", 30, 10, 70, 20)])
    message = refused(DatasetConfig(path=root, layout="pascal-voc"))
    assert f"{root / 'annotations' / 'a.xml'}: object 1: cat: box (30, 10) to (70, 20) is outside the 60x40" in message
    assert "nothing was uploaded" in message


def test_degenerate_normalised_looking_and_non_numeric_voc_boxes_are_named_by_object(tmp_path):
    root = voc_set(tmp_path / "d", {"a": [("cat", 10, 10, 20, 20), ("cat", 30, 10, 30, 20),
                                          ("dog", 0.1, 0.2, 0.5, 0.6), ("dog", "x", 1, 2, 3)]})
    message = refused(DatasetConfig(path=root, layout="pascal-voc"))
    xml = root / "annotations" / "a.xml"
    assert f"{xml}: object 2: cat: degenerate box" in message
    assert f"{xml}: object 3: dog: every coordinate is at most 1" in message and "look normalised" in message
    assert f"{xml}: object 4: dog: <bndbox> needs numbers" in message
    assert "object 1" not in message


def test_malformed_xml_is_named_with_its_line_and_entities_are_refused(tmp_path):
    root = voc_set(tmp_path / "d", {"a": [("cat", 1, 1, 9, 9)], "b": [("cat", 1, 1, 9, 9)]})
    (root / "annotations" / "a.xml").write_text("<annotation>\n<filename>a.jpg</filename>\n<object>\n</annotation>")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read me")
    voc(root / "annotations" / "b.xml", "b.jpg", (60, 40), [("&xxe;", 1, 1, 9, 9)],
        extra=f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY xxe SYSTEM "file://{secret}">]>')
    message = refused(DatasetConfig(path=root, layout="pascal-voc"))
    assert f"{root / 'annotations' / 'a.xml'}:4: malformed XML" in message
    assert f"{root / 'annotations' / 'b.xml'}: refused" in message
    assert "do not read me" not in message


def test_coco_problems_are_named_by_line(tmp_path):
    jpeg(tmp_path / "a.jpg", seed=1)
    jpeg(tmp_path / "b.jpg", seed=2)
    body = {"images": [{"id": 1, "file_name": "a.jpg", "width": 60, "height": 40},
                       {"id": 2, "file_name": "b.jpg", "width": 60, "height": 40},
                       {"id": 3, "file_name": "gone.jpg", "width": 60, "height": 40}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10]},
                            {"id": 2, "image_id": 9, "category_id": 1, "bbox": [1, 1, 10, 10]},
                            {"id": 3, "image_id": 2, "category_id": 7, "bbox": [1, 1, 10, 10]},
                            {"id": 4, "image_id": 2, "category_id": 1, "bbox": [1, 1, -3, 10]},
                            {"id": 5, "image_id": 2, "category_id": 1, "bbox": [1, 1, 10, 10], "iscrowd": 1}],
            "categories": [{"id": 1, "name": "cat"}]}
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(body, indent=1))
    lines = path.read_text().splitlines()

    def line_of(text: str) -> int:
        return next(n for n, line in enumerate(lines, 1) if text in line)
    message = refused(DatasetConfig(path=path, layout="coco"))
    missing = line_of('"image_id": 9') - 2  # the annotation's object opens two lines above
    assert f"{path}:{missing}: image_id 9 is not in `images`" in message
    assert "category_id 7 is not in `categories` (unknown label)" in message
    assert "cat: degenerate box" in message
    assert "image " + str(tmp_path / "gone.jpg") + " not found" in message
    path.write_text('{"images": [\n{"id": 1, "file_name": "a.jpg"},\n]}')
    assert f"{path}:3: not valid JSON" in refused(DatasetConfig(path=path, layout="coco"))


def test_yolo_lines_are_checked_and_rounding_past_an_edge_is_clipped(tmp_path):
    root = tmp_path / "y"
    for stem in "abc":
        jpeg(root / "images" / f"{stem}.jpg", seed=ord(stem))
    (root / "labels").mkdir()
    (root / "classes.txt").write_text("cat\ndog\n")
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 1.01 0.5\n1 0.25 0.25 0.5 0.5\n")  # 1.01: 0.6 px past
    (root / "labels" / "b.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    dataset = scan(DatasetConfig(path=root, layout="yolo", require_boxes=False), detection=True)
    assert boxes(dataset)["a"][0] == ("cat", 0.0, 0.25, 1.0, 0.5)
    assert boxes(dataset)["c"] == [] and dataset.images[2].tags == ()  # no label file: a background image
    (root / "labels" / "b.txt").write_text("1 0.5 0.5 0.2 0.2\n2 0.5 0.5 0.2 0.2\n0 30 20 12 8\n"
                                           "0 0.1 0.1 0.2 0.1 0.3 0.3\n0 0.9 0.5 0.4 0.2\n")
    message = refused(DatasetConfig(path=root, layout="yolo"))
    label = root / "labels" / "b.txt"
    assert f"{label}:2: class 2 is not in the class list" in message
    assert f"{label}:3: cat: values over 1" in message and "look like pixels" in message
    assert f"{label}:4: a polygon (segmentation) line" in message
    assert f"{label}:5: cat: box" in message and "extends outside the image" in message
    assert f"{root / 'images' / 'c.jpg'}: c.jpg has no boxes (dataset.require_boxes" in message


def test_the_regions_manifest_is_not_clipped(tmp_path):
    jpeg(tmp_path / "a.jpg")
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps([{"path": "a.jpg", "regions": [
        {"tagName": "cat", "left": 0.5, "top": 0.5, "width": 0.6, "height": 0.1},
        {"tag": "cat", "left": 10, "top": 5, "width": 20, "height": 20}]}], indent=1))
    message = refused(DatasetConfig(path=manifest, layout="manifest"))
    assert f"{manifest}:2: region 1: cat: box (0.5, 0.5, 0.6, 0.1) extends outside the image" in message
    assert f"{manifest}:2: region 2: cat: values over 1" in message


def test_duplicates_too_many_boxes_and_an_image_twice_with_other_boxes(tmp_path):
    root = voc_set(tmp_path / "d", {"a": [("cat", 1, 1, 9, 9), ("cat", 1, 1, 9, 9)], "b": [("cat", 1, 1, 9, 9)]})
    (root / "images" / "c.jpg").write_bytes((root / "images" / "b.jpg").read_bytes())  # b's bytes again
    voc(root / "annotations" / "c.xml", "c.jpg", (60, 40), [("cat", 2, 2, 9, 9)])
    many = [("cat", x % 50, x // 50 % 30, x % 50 + 5, x // 50 % 30 + 5 + x // 1500) for x in range(10_000)]
    jpeg(root / "images" / "m.jpg", seed=9)
    voc(root / "annotations" / "m.xml", "m.jpg", (60, 40), many)
    message = refused(DatasetConfig(path=root, layout="pascal-voc"))
    a = root / "annotations" / "a.xml"
    assert f"{a}: object 2: duplicate box: cat [" in message and f"is also at {a}: object 1" in message
    assert f"{root / 'annotations' / 'm.xml'}: 10,000 boxes; Custom Vision takes at most 300" in message
    assert f"{root / 'annotations' / 'b.xml'} and {root / 'annotations' / 'c.xml'}: the same image twice with " \
           "different boxes" in message
    voc(root / "annotations" / "a.xml", "a.jpg", (60, 40), [("cat", 1, 1, 9, 9)])
    voc(root / "annotations" / "c.xml", "c.jpg", (60, 40), [("cat", 1, 1, 9, 9)])  # the same boxes: one image
    dataset = scan(DatasetConfig(path=root, layout="pascal-voc", exclude=["m.jpg"]), detection=True)
    assert sorted(image.path.stem for image in dataset.images) == ["a", "b"]


def test_exif_orientation_is_applied_to_the_boxes(tmp_path):
    # Stored 60x40, shown turned (orientation 6: 40x60). A marked block shows where Pillow puts the pixels.
    stored = Image.new("RGB", (60, 40), (0, 0, 0))
    stored.paste((255, 255, 255), (6, 4, 18, 12))  # x 6..18, y 4..12 of the stored image
    exif = Image.Exif()
    exif[0x0112] = 6
    root = tmp_path / "d"
    (root / "images").mkdir(parents=True)
    stored.save(root / "images" / "a.png", exif=exif.tobytes())
    shown = ImageOps.exif_transpose(Image.open(root / "images" / "a.png")).convert("L")
    x1, y1, x2, y2 = shown.point(lambda v: 255 if v > 128 else 0).getbbox()
    expected = (x1 / 40, y1 / 60, (x2 - x1) / 40, (y2 - y1) / 60)
    assert turned(6 / 60, 4 / 40, 18 / 60, 12 / 40, 6) == pytest.approx(
        (expected[0], expected[1], expected[0] + expected[2], expected[1] + expected[3]))
    # drawn on the stored pixels (the annotation says 60x40): turned with the image
    voc(root / "annotations" / "a.xml", "a.png", (60, 40), [("block", 6, 4, 18, 12)])
    (region,) = scan(DatasetConfig(path=root, layout="pascal-voc"), detection=True).images[0].regions
    assert region.box == pytest.approx(expected)
    # drawn on the displayed image (the annotation says 40x60): as given
    voc(root / "annotations" / "a.xml", "a.png", (40, 60), [("block", x1, y1, x2, y2)])
    (region,) = scan(DatasetConfig(path=root, layout="pascal-voc"), detection=True).images[0].regions
    assert region.box == pytest.approx(expected)
    voc(root / "annotations" / "a.xml", "a.png", (50, 50), [("block", 1, 1, 5, 5)])
    assert "the annotation says the image is 50x50 pixels, the image is 40x60" in refused(
        DatasetConfig(path=root, layout="pascal-voc"))


def test_a_split_file_or_globs_choose_the_training_subset(tmp_path):
    root = voc_set(tmp_path / "d", {f"{t}{i}": [(t, 1, 1, 9, 9)] for t in ("cat", "dog") for i in range(3)})
    (root / "train.txt").write_text("cat0\n./images/cat1.jpg\n# a comment\n\ndog2\n")
    dataset = scan(DatasetConfig(path=root, layout="pascal-voc", split="train.txt"), detection=True)
    assert sorted(boxes(dataset)) == ["cat0", "cat1", "dog2"]
    dataset = scan(DatasetConfig(path=root, layout="pascal-voc", split="train.txt", include=["cat*"]),
                   detection=True)
    assert sorted(boxes(dataset)) == ["cat0", "cat1"]
    (root / "train.txt").write_text("cat0\nbird7\n")
    assert f"{root / 'train.txt'}:2: 'bird7' names no image of the dataset" in refused(
        DatasetConfig(path=root, layout="pascal-voc", split="train.txt"))


def test_labels_outside_the_class_list_and_too_few_images_a_tag(tmp_path):
    root = voc_set(tmp_path / "d", {"a": [("cat", 1, 1, 9, 9)], "b": [("cta", 1, 1, 9, 9)]})
    message = refused(DatasetConfig(path=root, layout="pascal-voc", classes=["cat", "dog"]))
    assert f"{root / 'annotations' / 'b.xml'}: object 1: unknown label 'cta' (not in dataset.classes" in message
    dataset = scan(DatasetConfig(path=root, layout="pascal-voc"), detection=True)
    with pytest.raises(DatasetError, match="tag 'cat' has boxes on 1 image; .* at least 15 per tag: add 14 more"):
        validate(dataset, "Multiclass")


CONFIG = """project: {{name: Boxes}}
service: {{training_endpoint: http://127.0.0.1:9, training_key: k, prediction_resource_id: r}}
dataset: {{path: {path}, layout: {layout}}}
{extra}
publish: {{name: boxes}}
"""


def test_validate_exits_2_naming_each_bad_file_and_config_keys_of_the_other_project_type(tmp_path, capsys):
    root = voc_set(tmp_path / "d", {"a": [("cat", 30, 10, 70, 20)], "b": [("cat", 1, 1, 9, 9)]})
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG.format(path=root, layout="pascal-voc", extra=""))
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{root / 'annotations' / 'a.xml'}: object 1: cat: box (30, 10) to (70, 20) is outside" in err
    config.write_text(CONFIG.format(path=root, layout="pascal-voc", extra="gates: {average_precision: 0.5}"))
    assert main(["validate", str(config)]) == 2
    assert f"{config}:4: gates.average_precision: an object detection project's is gates.mean_average_precision" \
        in capsys.readouterr().err
    config.write_text(CONFIG.format(path=root, layout="pascal-voc",
                                    extra="gates: {confusion: {max_pair_rate: 0.2}, suspects: {max_count: 1}}"))
    assert main(["validate", str(config)]) == 2  # the confusion of boxes gates a detection project, suspects do not
    err = capsys.readouterr().err
    assert "gates.suspects: suspect labels are classification's" in err and "gates.confusion" not in err
    config.write_text(CONFIG.format(path=root, layout="folder-per-tag", extra="smoke_test: [{image: x.jpg, "
                                                                               "expect: cat, count: 2}]"))
    assert main(["validate", str(config)]) == 2
    assert "`count` is for ObjectDetection projects" in capsys.readouterr().err
