"""Scanning, hashing and validating datasets (folder-per-tag and manifests), before anything is uploaded."""
from __future__ import annotations

import json
import shutil

import pytest

from pipeline.config import DatasetConfig, UploadConfig
from pipeline.dataset import DatasetImage, scan, validate
from pipeline.errors import DatasetError
from pipeline.steps.upload import batches

JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 100
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 100


def make_tree(root, counts, payload=JPEG):
    for tag, n in counts.items():
        (root / tag).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (root / tag / f"{i}.jpg").write_bytes(payload + f"{tag}{i}".encode())
    return root


def test_folder_per_tag_with_tag_names(tmp_path):
    root = make_tree(tmp_path / "d", {"Hemlock": 5, "Japanese_Cherry": 6})
    (root / "Hemlock" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    mapping = {"Japanese_Cherry": "Japanese Cherry"}
    dataset = scan(DatasetConfig(path=root), lambda t: mapping.get(t, t))
    assert dataset.counts() == {"Hemlock": 5, "Japanese Cherry": 6}
    assert dataset.source_tags == {"Hemlock", "Japanese_Cherry"}
    assert all(len(image.sha256) == 64 for image in dataset.images)
    validate(dataset, "Multiclass")


def test_real_fruit_set(datasets):
    dataset = scan(DatasetConfig(path=datasets / "fruit"))
    assert dataset.counts() == {"apple": 15, "banana": 15, "orange": 15}
    validate(dataset, "Multiclass")


def test_tag_under_five_images_is_refused_naming_the_tag(tmp_path):
    dataset = scan(DatasetConfig(path=make_tree(tmp_path / "d", {"apple": 5, "kiwi": 3})))
    with pytest.raises(DatasetError) as info:
        validate(dataset, "Multiclass")
    assert info.value.exit_code == 2
    assert "tag 'kiwi' has 3 images" in str(info.value) and "add 2 more" in str(info.value)
    assert "'apple'" not in str(info.value)


def test_one_tag_is_not_enough(tmp_path):
    dataset = scan(DatasetConfig(path=make_tree(tmp_path / "d", {"apple": 5})))
    with pytest.raises(DatasetError, match="at least 2 tags"):
        validate(dataset, "Multiclass")


def test_unusable_images_are_named(tmp_path):
    root = make_tree(tmp_path / "d", {"apple": 5, "pear": 5})
    (root / "apple" / "fake.jpg").write_bytes(b"GIF? no, text")
    (root / "pear" / "empty.png").write_bytes(b"")
    with pytest.raises(DatasetError) as info:
        scan(DatasetConfig(path=root))
    assert "fake.jpg: not a JPEG, PNG, BMP or GIF image" in str(info.value)
    assert "empty.png: empty file" in str(info.value)


def test_same_image_under_two_tags_is_refused_and_copies_are_merged(tmp_path):
    root = make_tree(tmp_path / "d", {"apple": 5, "pear": 5})
    shutil.copy(root / "apple" / "0.jpg", root / "apple" / "copy.jpg")
    assert len(scan(DatasetConfig(path=root)).images) == 10
    shutil.copy(root / "apple" / "0.jpg", root / "pear" / "stolen.jpg")
    with pytest.raises(DatasetError, match="same image under different tags"):
        scan(DatasetConfig(path=root))


def test_csv_and_json_manifests(tmp_path):
    root = make_tree(tmp_path / "d", {"a": 5, "b": 5}, PNG)
    rows = [(f"d/{t}/{i}.jpg", t) for t in "ab" for i in range(5)]
    csv_path = tmp_path / "m.csv"
    csv_path.write_text("path,tags\n" + "".join(f"{p},{t}\n" for p, t in rows))
    dataset = scan(DatasetConfig(path=csv_path, layout="manifest"))
    assert dataset.counts() == {"a": 5, "b": 5}
    json_path = tmp_path / "m.json"
    json_path.write_text(json.dumps([{"path": p, "tags": [t, "both"]} for p, t in rows]))
    dataset = scan(DatasetConfig(path=json_path, layout="manifest"))
    assert dataset.counts() == {"a": 5, "b": 5, "both": 10}
    validate(dataset, "Multilabel")
    with pytest.raises(DatasetError, match="exactly one tag an image"):
        validate(dataset, "Multiclass")
    assert root.exists()


def test_manifest_problems(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("file,label\nx.jpg,a\n")
    with pytest.raises(DatasetError, match="columns path,tags"):
        scan(DatasetConfig(path=bad, layout="manifest"))
    missing = tmp_path / "missing.csv"
    missing.write_text("path,tags\nnope.jpg,a\n")
    with pytest.raises(DatasetError, match="nope.jpg: file not found"):
        scan(DatasetConfig(path=missing, layout="manifest"))
    with pytest.raises(DatasetError, match="manifest not found"):
        scan(DatasetConfig(path=tmp_path / "none.json", layout="manifest"))


def test_batches_respect_count_and_bytes():
    images = [DatasetImage(path=f"{i}.jpg", tags=("a",), size=size, sha256=str(i))
              for i, size in enumerate([400_000] * 10 + [3_000_000] + [10] * 100)]
    config = UploadConfig(batch_images=64, batch_megabytes=1)
    result = list(batches(images, config))
    assert sum(len(b) for b in result) == len(images)
    assert all(len(b) <= 64 for b in result)
    assert all(sum(i.size for i in b) <= 1024 * 1024 or len(b) == 1 for b in result)
    assert [len(b) for b in result][:4] == [2, 2, 2, 2]


def test_skipped_files_are_counted_and_named(tmp_path):
    root = make_tree(tmp_path / "d", {"apple": 5, "pear": 5})
    (root / "apple" / "notes.txt").write_text("not an image")
    (root / "pear" / "photo.webp").write_bytes(b"RIFF....WEBP")
    (root / "kiwi").mkdir()  # a tag folder with nothing in it
    (root / "stray.jpg").write_bytes(JPEG)  # not in any tag folder
    (root / "apple" / ".DS_Store").write_bytes(b"\0")  # hidden: ignored, not reported
    dataset = scan(DatasetConfig(path=root))
    assert dataset.counts() == {"apple": 5, "pear": 5}
    skipped = {s.path.relative_to(root).as_posix(): s.reason for s in dataset.skipped}
    assert set(skipped) == {"apple/notes.txt", "pear/photo.webp", "kiwi", "stray.jpg"}, skipped
    assert "not an image" in skipped["apple/notes.txt"]
    assert "unsupported image format .webp" in skipped["pear/photo.webp"]
    assert "JPEG, PNG, BMP or GIF" in skipped["pear/photo.webp"]
    assert "empty tag folder" in skipped["kiwi"] and "not in a tag folder" in skipped["stray.jpg"]


def test_an_empty_dataset_says_no_images_found(tmp_path):
    root = tmp_path / "d"
    (root / "apple").mkdir(parents=True)
    (root / "apple" / "readme.txt").write_text("x")
    dataset = scan(DatasetConfig(path=root))
    with pytest.raises(DatasetError, match=r"no images found in .*d.* skipped: apple/readme.txt"):
        validate(dataset, "Multiclass")


@pytest.mark.parametrize("name, text, line, message", [
    ("m.csv", "path,tags\na.jpg,apple\n\nmissing.jpg,apple\n", 4, "missing.jpg: file not found"),
    ("m.csv", "path,tags\na.jpg,apple\n,apple\n", 3, "empty path"),
    ("m.json", '[\n  {"path": "a.jpg", "tags": ["apple"]},\n  {"tags": ["apple"]}\n]\n', 3, "has no 'path'"),
    ("m.json", '{"images": [\n  {"path": "a.jpg", "tags": ["apple"]},\n\n  {"path": "gone.jpg", "tags": ["x"]}\n]}',
     4, "gone.jpg: file not found"),
    ("m.json", '[\n  {"path": "a.jpg",\n   "tags": ["apple"]\n  ,\n]\n', 5, "not valid JSON"),
])
def test_manifest_errors_carry_their_line(tmp_path, name, text, line, message):
    (tmp_path / "a.jpg").write_bytes(JPEG)
    manifest = tmp_path / name
    manifest.write_text(text)
    with pytest.raises(DatasetError) as info:
        scan(DatasetConfig(path=manifest, layout="manifest"))
    assert f"{manifest}:{line}: " in str(info.value) and message in str(info.value), str(info.value)
