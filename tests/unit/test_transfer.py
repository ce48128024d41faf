"""The transfer's pure parts: folder names for any tag, the export journal (torn lines, another project's folder),
where an image goes, `--from` / `--to` resolution, the comparison of two sides, and the dataset's blob fields."""
from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from pipeline.config import DatasetConfig
from pipeline.errors import ConfigError, DatasetError
from pipeline.redact import redact
from pipeline.transfer.compare import compare
from pipeline.transfer.endpoints import resolve
from pipeline.transfer.folder import JOURNAL_FILE, ExportedImage, ProjectFolder, extension, folder_names

SOURCE = {"endpoint": "http://a", "project_id": "p1", "project_name": "One"}


def test_every_tag_gets_a_distinct_folder_name_any_file_system_takes():
    names = folder_names(["a/b", "a:b", "A_b", ".hidden", "dots...", "", "ok name"])
    assert names["ok name"] == "ok name" and names[".hidden"] == "_hidden" and names["dots..."] == "dots"
    assert len({n.lower() for n in names.values()}) == len(names)
    assert all("/" not in n and ":" not in n and n not in (".", "..") for n in names.values())


def test_where_an_image_goes():
    folder = ProjectFolder("x")
    tags = {"apple": "apple"}
    assert folder.relative_path("Multiclass", "id1", ["apple"], ".jpg", tags) == "images/apple/id1.jpg"
    assert folder.relative_path("Multilabel", "id2", ["apple"], ".png", tags) == "images/id2.png"
    assert folder.relative_path("Multiclass", "id3", [], ".gif", tags) == "untagged/id3.gif"
    assert extension(b"\x89PNG\r\n") == ".png" and extension(b"RIFF....WEBP") == ".bin"


def test_the_journal_survives_a_torn_line_and_refuses_another_projects_folder(tmp_path):
    folder = ProjectFolder(tmp_path / "export")
    assert folder.start_journal(SOURCE) == {}
    (tmp_path / "export" / "images").mkdir()
    (tmp_path / "export" / "images" / ".part-123").write_bytes(b"half")
    folder.record(ExportedImage("i1", "images/i1.jpg", ["apple"], "ab" * 32, 10))
    folder.record(ExportedImage("i2", "images/i2.jpg", [], "cd" * 32, 11))
    folder.record_removed("i2")
    with open(tmp_path / "export" / JOURNAL_FILE, "a") as journal:
        journal.write('{"id": "i3", "path": "ima')  # the kill came mid-line
    again = folder.start_journal(SOURCE)
    assert list(again) == ["i1"] and again["i1"].tags == ["apple"]
    assert not list((tmp_path / "export").rglob(".part-*"))
    with pytest.raises(DatasetError, match="holds an export of another project"):
        folder.start_journal({**SOURCE, "project_id": "p2"})


def test_an_export_folder_must_be_empty_or_an_export(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="is not empty and holds no export"):
        ProjectFolder(tmp_path).start_journal(SOURCE)
    assert (tmp_path / "mine.txt").read_text() == "keep me" and not (tmp_path / JOURNAL_FILE).exists()


def test_a_finished_export_without_its_journal_is_resumed_from_its_manifest(tmp_path):
    folder = ProjectFolder(tmp_path)
    folder.write_project({"format": "cvops-project/1", "source": SOURCE})
    folder.write_manifest([ExportedImage("i1", "images/a/i1.jpg", ["a"], "00" * 32, 3)])
    assert list(folder.start_journal(SOURCE)) == ["i1"]
    assert json.loads((tmp_path / "manifest.json").read_text())["images"][0]["tags"] == ["a"]


def test_endpoints_come_from_flags_and_the_environment_never_from_the_command_line():
    source = resolve("http://127.0.0.1:9", "source", environ={"CVOPS_SOURCE_TRAINING_KEY": "s" * 32})
    assert source.service.training_key.get_secret_value() == "s" * 32 and source.label == "http://127.0.0.1:9"
    assert redact("key " + "s" * 32) == "key ***"
    keyless = resolve("https://x.cognitiveservices.azure.com/", "target", environ={
        "CVOPS_TARGET_PREDICTION_RESOURCE_ID": "/subscriptions/s/rid"})
    assert keyless.service.training_key is None and "keyless" in keyless.label
    assert keyless.service.prediction_resource_id == "/subscriptions/s/rid"
    default = resolve(None, "target", environ={"CUSTOM_VISION_TRAINING_ENDPOINT": "http://h:1",
                                               "CUSTOM_VISION_TRAINING_KEY": "t" * 32})
    assert default.service.training_endpoint == "http://h:1" and default.service.training_key is not None
    with pytest.raises(ConfigError, match="no source service: give --from URL"):
        resolve(None, "source", environ={})
    with pytest.raises(ConfigError, match="--to my-service: give the service's endpoint URL"):
        resolve("my-service", "target", environ={})
    with pytest.raises(ConfigError, match="stack name is missing"):
        resolve("stack:", "source", environ={})


def test_compare_names_what_differs():
    source = [ExportedImage("1", "images/a/1.jpg", ["a"], "h1", 1), ExportedImage("2", "images/b/2.jpg", ["b"], "h2", 1),
              ExportedImage("3", "untagged/3.jpg", [], "h3", 1)]
    same = compare(source, {"h1": ["a"], "h2": ["b"], "h3": []}, [])
    assert same["equal"] and same["source"] == same["target"] and same["source"]["untagged"] == 1
    differs = compare(source, {"h1": ["a"], "h2": ["a"], "h4": ["c"]}, ["x: HTTP 404"])
    assert not differs["equal"] and differs["missing_on_target"] == 1 and differs["tags_differ"] == 1
    assert differs["only_on_target"] == 1 and differs["unreadable_on_target"] == 1
    assert differs["examples"]["missing_on_target"] == ["untagged/3.jpg"]
    assert differs["examples"]["tags_differ"] == ["images/b/2.jpg: b -> a"]


def test_compare_holds_boxes_the_same_within_a_millionth():
    box = {"tag": "cat", "left": 0.1234565, "top": 0.2, "width": 0.3, "height": 0.4}
    source = [ExportedImage("1", "images/1.jpg", ["cat"], "h1", 1, [box, {**box, "tag": "dog"}])]
    near = [{**box, "tag": "dog"}, {**box, "left": box["left"] + 9e-7}]  # rounds to another 6th decimal
    assert compare(source, {"h1": ["cat"]}, [], {"h1": near})["equal"]
    moved = compare(source, {"h1": ["cat"]}, [], {"h1": [{**box, "tag": "dog"}, {**box, "left": 0.1235}]})
    assert not moved["equal"] and moved["examples"]["regions_differ"] == ["images/1.jpg: regions moved"]
    fewer = compare(source, {"h1": ["cat"]}, [], {"h1": [box]})
    assert fewer["examples"]["regions_differ"] == ["images/1.jpg: 2 region(s) -> 1 region(s)"]


def test_a_dataset_is_in_exactly_one_place():
    assert DatasetConfig(container="training-images", prefix="fruit").remote == \
        "blob container 'training-images', prefix 'fruit'"
    for fields in ({"container": "c1x", "path": "x"}, {}, {"container": "c1x", "url": "https://h/x.zip",
                                                           "sha256": "0" * 64}):
        with pytest.raises(ValidationError, match="exactly one of"):
            DatasetConfig(**fields)
    for bad in ("Upper", "a--b", "ab", "-ab", "a" * 64):
        with pytest.raises(ValidationError):
            DatasetConfig(container=bad)


def test_a_sas_token_in_the_account_url_is_masked_at_once():
    DatasetConfig(container="abc", account_url="https://acct.blob.core.windows.net?sv=1&sig=TOPSECRETVALUE")
    assert "TOPSECRETVALUE" not in redact("got https://acct.blob.core.windows.net?sv=1&sig=TOPSECRETVALUE")


def test_a_failed_link_is_named_without_its_signature_and_listed_anew(tmp_path):
    """Azure's image links are signed and expire: a link that fails is fetched again from a fresh listing.
    (The self-hosted service's links do not expire, so this one path stands a small stand-in for the listing.)"""
    from types import SimpleNamespace

    from harness.files import serve_files
    from harness.images import photo
    from pipeline.progress import Progress
    from pipeline.transfer.download import DownloadFailed, fetch, session
    from pipeline.transfer.exporting import ExportResult, _download

    data = {"/fresh/1?sig=SIGNATURE123": photo("red", 1), "/fresh/2?sig=SIGNATURE123": photo("blue", 2, fmt="PNG")}
    with serve_files(data) as files:
        with pytest.raises(DownloadFailed, match="answered HTTP 404") as failed:
            fetch(session(1), files.url("/gone?sig=SIGNATURE123"))
        assert "SIGNATURE123" not in str(failed.value)

        def image(number, where):
            return SimpleNamespace(id=f"id{number}", tags=[SimpleNamespace(tag_name="t")],
                                   original_image_uri=files.url(f"/{where}/{number}?sig=SIGNATURE123"))

        class Listing:  # what get_images_by_ids answers: the same images with new links
            def get_images_by_ids(self, project_id, image_ids):
                return [image(int(i.removeprefix("id")), "fresh") for i in image_ids]

        out = ProjectFolder(tmp_path)
        out.start_journal(SOURCE)
        entries, result = {}, ExportResult(tmp_path, {})
        failures = _download(Listing(), "p1", [image(1, "old"), image(2, "fresh")], out,
                             lambda im, ext: f"images/{im.id}{ext}", entries, result, Progress(quiet=True), 2)
        assert failures == [] and result.downloaded == 2
        assert (tmp_path / "images" / "id1.jpg").read_bytes() == data["/fresh/1?sig=SIGNATURE123"]
        assert (tmp_path / "images" / "id2.png").read_bytes() == data["/fresh/2?sig=SIGNATURE123"]
        assert files.hits["/old/1?sig=SIGNATURE123"] == 1 and files.hits["/fresh/1?sig=SIGNATURE123"] == 1
        assert set(ProjectFolder(tmp_path).start_journal(SOURCE)) == {"id1", "id2"}
