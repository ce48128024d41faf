"""Every field the official SDK can send is honoured, refused with Custom Vision's error, or accepted and ignored
as docs/self-hosted.md lists it: checked here through the SDK itself, against the real service."""
from __future__ import annotations

import sqlite3
import uuid

import pytest
from azure.cognitiveservices.vision.customvision.training.models import (CustomBaseModelInfo,
                                                                         CustomVisionErrorException,
                                                                         ImageFileCreateBatch, ImageFileCreateEntry,
                                                                         Region)

from harness.exports import finished
from harness.images import photo
from harness.rest import Rest

GENERAL_COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"


def _refused(call, code: str) -> str:
    with pytest.raises(CustomVisionErrorException) as caught:
        call()
    assert caught.value.error.code == code, caught.value.error.message
    return caught.value.error.message


def _upload(trainer, project_id: str, tag_id: str, images: list[bytes]) -> list[str]:
    entries = [ImageFileCreateEntry(name=f"{i}.jpg", contents=data, tag_ids=[tag_id]) for i, data in enumerate(images)]
    summary = trainer.create_images_from_files(project_id, ImageFileCreateBatch(images=entries))
    assert summary.is_batch_successful, [i.status for i in summary.images]
    return [i.image.id for i in summary.images]


def _train(trainer, rest: Rest, project_id: str, **options) -> str:
    return rest.wait(project_id, trainer.train_project(project_id, **options).id)


@pytest.fixture(scope="module")
def trained(trainer, cvlocal_service):
    """A compact-domain project trained once (5 red, 5 blue), then changed: 2 red images more, one red image
    untagged, a green tag added."""
    rest = Rest(cvlocal_service)
    project = trainer.create_project(f"fields {uuid.uuid4().hex[:8]}", domain_id=GENERAL_COMPACT)
    red, blue = trainer.create_tag(project.id, "red"), trainer.create_tag(project.id, "blue")
    red_ids = _upload(trainer, project.id, red.id, [photo("red", i) for i in range(5)])
    blue_ids = _upload(trainer, project.id, blue.id, [photo("blue", i) for i in range(5)])
    iteration = _train(trainer, rest, project.id, notification_email_address="ops@example.com")
    new_ids = _upload(trainer, project.id, red.id, [photo("red", i) for i in range(100, 102)])
    trainer.delete_image_tags(project.id, [red_ids[0]], [red.id])
    green = trainer.create_tag(project.id, "green")
    return {"rest": rest, "project": project.id, "iteration": iteration, "red": red.id, "blue": blue.id,
            "green": green.id, "red_ids": red_ids, "blue_ids": blue_ids, "new_ids": new_ids,
            "data_dir": cvlocal_service.data_dir}


def test_iteration_id_lists_the_images_as_that_iteration_trained_on_them(trainer, trained):
    pid, iid = trained["project"], trained["iteration"]
    as_trained = trainer.get_tagged_images(pid, iteration_id=iid, take=256)
    assert sorted(i.id for i in as_trained) == sorted(trained["red_ids"] + trained["blue_ids"])
    untagged_since = next(i for i in as_trained if i.id == trained["red_ids"][0])
    assert [t.tag_name for t in untagged_since.tags] == ["red"]  # as it was trained
    assert trainer.get_tagged_image_count(pid, iteration_id=iid) == 10
    assert trainer.get_tagged_image_count(pid) == 11  # the workspace: 2 more, 1 untagged
    assert trainer.get_tagged_image_count(pid, iteration_id=iid, tag_ids=[trained["blue"]]) == 5
    assert len(trainer.get_tagged_images(pid, iteration_id=iid, tag_ids=[trained["red"]])) == 5
    assert trainer.get_untagged_images(pid, iteration_id=iid) == []
    assert trainer.get_untagged_image_count(pid, iteration_id=iid) == 0
    assert trainer.get_untagged_image_count(pid) == 1
    assert trainer.get_image_count(pid, iteration_id=iid) == 10 and trainer.get_image_count(pid) == 12
    assert len(trainer.get_images(pid, iteration_id=iid, tagging_status="Untagged")) == 0
    assert [i.id for i in trainer.get_images_by_ids(pid, [trained["new_ids"][0]], iteration_id=iid)] == []
    assert len(trainer.get_images_by_ids(pid, [trained["blue_ids"][0]], iteration_id=iid)) == 1
    _refused(lambda: trainer.get_tagged_images(pid, iteration_id=str(uuid.uuid4())), "NotFoundIteration")


def test_iteration_id_gives_the_tags_as_that_iteration_trained_on_them(trainer, trained):
    pid, iid = trained["project"], trained["iteration"]
    assert {t.name: t.image_count for t in trainer.get_tags(pid, iteration_id=iid)} == {"red": 5, "blue": 5}
    assert {t.name: t.image_count for t in trainer.get_tags(pid)} == {"red": 6, "blue": 5, "green": 0}
    assert trainer.get_tag(pid, trained["red"], iteration_id=iid).image_count == 5
    _refused(lambda: trainer.get_tag(pid, trained["green"], iteration_id=iid), "NotFoundTag")


def test_notification_email_is_checked_then_ignored(trainer, trained):
    """The module's training passed a good address (and trained); a malformed one is refused, no iteration made."""
    pid = trained["project"]
    before = len(trainer.get_iterations(pid))
    _refused(lambda: trainer.train_project(pid, force_train=True, notification_email_address="not an address"),
             "BadRequestInvalidEmailAddress")
    assert len(trainer.get_iterations(pid)) == before


def test_a_custom_base_model_is_refused(trainer, trained):
    pid, iid = trained["project"], trained["iteration"]
    before = len(trainer.get_iterations(pid))
    message = _refused(lambda: trainer.train_project(pid, force_train=True, custom_base_model_info=CustomBaseModelInfo(
        project_id=pid, iteration_id=iid)), "BadRequestNotSupported")
    assert "customBaseModelInfo" in message and len(trainer.get_iterations(pid)) == before


def test_overlap_threshold_is_checked_then_ignored(trainer, trained):
    pid, iid = trained["project"], trained["iteration"]
    plain = trainer.get_iteration_performance(pid, iid, threshold=0.5)
    with_overlap = trainer.get_iteration_performance(pid, iid, threshold=0.5, overlap_threshold=0.3)
    assert with_overlap.as_dict() == plain.as_dict()
    _refused(lambda: trainer.get_iteration_performance(pid, iid, threshold=0.5, overlap_threshold=1.5), "BadRequest")


def test_export_flavors_are_refused_and_the_one_model_is_exported(trainer, trained):
    pid, iid = trained["project"], trained["iteration"]
    assert "flavor" in _refused(lambda: trainer.export_iteration(pid, iid, "ONNX", flavor="ONNX12"),
                                "BadRequestExportValidationFailed")
    export = trainer.export_iteration(pid, iid, "onnx")  # any letter case, answered in Azure's spelling
    assert export.status == "Exporting" and export.platform == "ONNX" and export.flavor is None
    assert finished(trainer, pid, iid, "ONNX").status == "Done"


def test_a_stored_prediction_keeps_its_application_and_nostore_keeps_nothing(trained, predictor):
    pid, iid, rest = trained["project"], trained["iteration"], trained["rest"]
    r = rest.training("POST", f"/projects/{pid}/iterations/{iid}/publish",
                      params={"publishName": "fields", "predictionId": rest.service.prediction_resource_id})
    assert r.status_code == 200, r.text
    kept = predictor.classify_image(pid, "fields", photo("red", 300), application="checkout")
    gone = predictor.classify_image_with_no_store(pid, "fields", photo("red", 301), application="checkout")
    with sqlite3.connect(trained["data_dir"] / "cvlocal.db") as db:
        stored = dict(db.execute("SELECT id, application FROM predictions WHERE project_id = ?", (pid,)).fetchall())
    assert stored.get(kept.id) == "checkout" and gone.id not in stored


def test_quick_test_store_false_keeps_nothing(trainer, trained):
    pid, iid = trained["project"], trained["iteration"]
    kept = trainer.quick_test_image(pid, photo("blue", 400), iteration_id=iid)
    gone = trainer.quick_test_image(pid, photo("blue", 401), iteration_id=iid, store=False)
    with sqlite3.connect(trained["data_dir"] / "cvlocal.db") as db:
        stored = {row[0] for row in db.execute("SELECT id FROM predictions WHERE project_id = ?", (pid,))}
    assert kept.id in stored and gone.id not in stored


def test_all_iterations_is_accepted_and_the_image_is_deleted(trainer, trained):
    pid = trained["project"]
    doomed = trained["new_ids"][1]
    trainer.delete_images(pid, image_ids=[doomed], all_iterations=True)
    assert trainer.get_images_by_ids(pid, [doomed]) == []


def test_a_metadata_filter_is_refused(trainer, trained):
    pid = trained["project"]
    for call in (lambda: trainer.get_images(pid, filter="camera eq 'a'"),
                 lambda: trainer.get_image_count(pid, filter="camera eq 'a'")):
        assert "$filter" in _refused(call, "BadRequestNotSupported")


def test_regions_on_a_classification_project_are_refused_and_nothing_is_stored(trainer, trained):
    pid, red = trained["project"], trained["red"]
    before = trainer.get_image_count(pid)
    entry = ImageFileCreateEntry(name="r.jpg", contents=photo("red", 500), tag_ids=[red],
                                 regions=[Region(tag_id=red, left=0.1, top=0.1, width=0.5, height=0.5)])
    _refused(lambda: trainer.create_images_from_files(pid, ImageFileCreateBatch(images=[entry])),
             "BadRequestImageRegions")
    assert trainer.get_image_count(pid) == before


def test_project_options_are_refused_and_export_platforms_honoured(trainer):
    name = f"options {uuid.uuid4().hex[:8]}"
    _refused(lambda: trainer.create_project(name, export_model_container_uri="https://acct.blob.core.windows.net/c"),
             "BadRequestNotSupported")
    _refused(lambda: trainer.create_project(name, notification_queue_uri="https://acct.queue.core.windows.net/q"),
             "BadRequestNotSupported")
    assert name not in [p.name for p in trainer.get_projects()]
    _refused(lambda: trainer.create_project(name, target_export_platforms=["Nowhere"]),
             "BadRequestProjectUnsupportedExportPlatform")
    project = trainer.create_project(name, domain_id=GENERAL_COMPACT, target_export_platforms=["ONNX", "CoreML"])
    assert project.settings.target_export_platforms == ["ONNX", "CoreML"]
    project.settings.target_export_platforms = ["ONNX"]
    project.settings.image_processing_settings.augmentation_methods = {"rotation": True}  # accepted, ignored
    updated = trainer.update_project(project.id, project)
    assert updated.settings.target_export_platforms == ["ONNX"]
    assert updated.settings.image_processing_settings.augmentation_methods == {}
    assert trainer.get_project(project.id).settings.target_export_platforms == ["ONNX"]
    trainer.delete_project(project.id)


def test_listing_choices_are_honoured_or_refused(trainer, trained):
    pid = trained["project"]
    newest = [i.id for i in trainer.get_tagged_images(pid, order_by="Newest", take=256)]
    oldest = [i.id for i in trainer.get_tagged_images(pid, order_by="Oldest", take=256)]
    assert oldest == newest[::-1] and len(oldest) > 1
    _refused(lambda: trainer.get_tagged_images(pid, order_by="Suggested"), "BadRequest")
    assert trainer.get_image_count(pid, tagging_status="Untagged") == 1
    _refused(lambda: trainer.get_image_count(pid, tagging_status="Sometimes"), "BadRequest")
