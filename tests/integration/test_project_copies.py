"""Custom Vision's copy of a project (export_project, then import_project with the token) and get_artifact,
through the official SDK against real services over HTTP: a trained project exported from one service imports
into the same service and into another one that may fetch from it; bad tokens, a name that exists and paths
that try to escape are refused with Azure's codes, and a refused import writes nothing."""
from __future__ import annotations

import hashlib
import json
import time
import uuid

import httpx
import pytest
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from azure.cognitiveservices.vision.customvision.training.models import (CustomVisionErrorException,
                                                                         ImageFileCreateBatch, ImageFileCreateEntry)
from msrest.authentication import ApiKeyCredentials
from msrest.exceptions import HttpOperationError

from cvlocal.transfer.tokens import TokenSigner
from harness.images import photo
from harness.service import RunningService

COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"  # General (compact): its iterations export


def client(service) -> CustomVisionTrainingClient:
    return CustomVisionTrainingClient(service.endpoint, ApiKeyCredentials(in_headers={"Training-key":
                                                                                      service.training_key}))


@pytest.fixture(scope="module")
def importer(tmp_path_factory, cvlocal_service):
    """A second service that may import from the session's service (its exporter)."""
    with RunningService(tmp_path_factory.mktemp("importer") / "data",
                        extra_args=["--import-from", cvlocal_service.endpoint]) as service:
        yield service


@pytest.fixture(scope="module")
def source(cvlocal_service):
    """A trained project on the session's service: two tags (one with a description), an untagged image, metadata,
    a trained iteration, a stored prediction and an ONNX export."""
    trainer = client(cvlocal_service)
    project = trainer.create_project(f"copied {uuid.uuid4().hex[:8]}", description="to copy", domain_id=COMPACT,
                                     target_export_platforms=["ONNX"])
    red = trainer.create_tag(project.id, "red", description="warm").id
    blue = trainer.create_tag(project.id, "blue").id
    entries = [ImageFileCreateEntry(name=f"{c}{i}.jpg", contents=photo(c, 300 + i), tag_ids=[tag])
               for c, tag in (("red", red), ("blue", blue)) for i in range(5)]
    entries.append(ImageFileCreateEntry(name="untagged.jpg", contents=photo("green", 300)))
    summary = trainer.create_images_from_files(project.id, ImageFileCreateBatch(images=entries,
                                                                                metadata={"camera": "a"}))
    assert summary.is_batch_successful
    iteration = trainer.train_project(project.id)
    while iteration.status == "Training":
        time.sleep(0.3)
        iteration = trainer.get_iteration(project.id, iteration.id)
    assert iteration.status == "Completed"
    trainer.quick_test_image(project.id, photo("red", 399), iteration_id=iteration.id)
    trainer.export_iteration(project.id, iteration.id, "ONNX")
    return trainer, project, iteration


def contents(trainer, project_id: str) -> dict:
    """What a copy must keep: settings, tags, and each image's bytes (by hash) with its tags and metadata."""
    project = trainer.get_project(project_id)
    images = trainer.get_images(project_id, take=256)
    return {"description": project.description, "domain": project.settings.domain_id,
            "type": project.settings.classification_type, "platforms": project.settings.target_export_platforms,
            "tags": sorted((t.name, t.description, t.type, t.image_count) for t in trainer.get_tags(project_id)),
            "images": sorted((hashlib.sha256(httpx.get(i.original_image_uri).content).hexdigest(), i.width, i.height,
                              tuple(sorted(t.tag_name for t in i.tags or ())), tuple(sorted(i.metadata.items())))
                             for i in images)}


def test_an_exported_project_imports_into_its_own_service_and_into_another(source, cvlocal_service, importer):
    trainer, project, _ = source
    export = trainer.export_project(project.id)
    assert (export.iteration_count, export.image_count, export.tag_count, export.region_count) == (0, 11, 2, 0)
    assert export.estimated_import_time_in_ms > 0 and export.token.startswith("cvp1.")
    original = contents(trainer, project.id)
    assert len(original["images"]) == 11 and original["tags"] == [("blue", None, "Regular", 5),
                                                                   ("red", "warm", "Regular", 5)]

    same = trainer.import_project(export.token)  # no name: the exported one, numbered while a project has it
    assert same.name == f"{project.name} (2)" and same.status == "Succeeded" and same.id != project.id
    assert contents(trainer, same.id) == original
    assert trainer.get_iterations(same.id) == []  # trained iterations are not copied, as on Azure

    elsewhere = client(importer)
    copied = elsewhere.import_project(export.token, name="copied here")
    assert copied.name == "copied here" and contents(elsewhere, copied.id) == original
    assert elsewhere.import_project(export.token).name == project.name  # free on this service
    assert elsewhere.get_iterations(copied.id) == []


def _code(call) -> tuple[int, str]:
    with pytest.raises((CustomVisionErrorException, HttpOperationError)) as caught:
        call()
    return caught.value.response.status_code, caught.value.response.json()["code"]


def _altered(token: str) -> str:
    prefix, payload, signature = token.split(".")
    return ".".join((prefix, payload, signature[::-1]))


def test_bad_tokens_and_a_name_that_exists_are_refused_and_write_nothing(source, cvlocal_service, importer):
    trainer, project, _ = source
    elsewhere = client(importer)
    token = trainer.export_project(project.id).token
    secret = bytes.fromhex(json.loads((cvlocal_service.data_dir / "keys.json").read_text())["signingSecret"])
    export_id = TokenSigner(secret).read(token).export_id
    gone = trainer.create_project(f"gone {uuid.uuid4().hex[:8]}")
    gone_token = trainer.export_project(gone.id).token
    trainer.delete_project(gone.id)
    taken = elsewhere.create_project(f"taken {uuid.uuid4().hex[:8]}").name

    projects = {p.id for p in elsewhere.get_projects()}
    blobs = sorted(p.name for p in (importer.data_dir / "blobs").rglob("*") if p.is_file())
    bad = {
        "truncated": token[: len(token) // 2],
        "forged signature": _altered(token),
        "expired": TokenSigner(secret).issue(cvlocal_service.endpoint, export_id, time.time() - 1),
        "another service's": TokenSigner(b"x" * 32).issue(cvlocal_service.endpoint, export_id, time.time() + 60),
        "an exporter not allowed": TokenSigner(b"x" * 32).issue("http://169.254.169.254", export_id,
                                                                time.time() + 60),
        "Azure's": "Q3VzdG9tVmlzaW9uRXhwb3J0VG9rZW4=",
        "a deleted project's": gone_token,
    }
    for name, value in bad.items():
        assert _code(lambda: elsewhere.import_project(value)) == (400, "BadRequestInvalidImportToken"), name
    assert _code(lambda: elsewhere.import_project(token, name=taken)) == (400, "BadRequestProjectNameNotUnique")
    assert _code(lambda: trainer.import_project(_altered(token))) == (400, "BadRequestInvalidImportToken")
    assert {p.id for p in elsewhere.get_projects()} == projects
    assert sorted(p.name for p in (importer.data_dir / "blobs").rglob("*") if p.is_file()) == blobs
    assert elsewhere.get_domains()  # still serving


def test_get_artifact_serves_the_projects_files_by_relative_path_and_nothing_else(source, cvlocal_service):
    trainer, project, iteration = source
    image = trainer.get_tagged_images(project.id, take=1)[0]
    prediction = trainer.query_predictions(project.id, {"orderBy": "Newest"}).results[0]
    [export] = trainer.get_exports(project.id, iteration.id)

    def artifact(path: str) -> bytes:
        return b"".join(trainer.get_artifact(project.id, path))

    base = cvlocal_service.endpoint + "/blobs/"
    for uri in (image.original_image_uri, image.thumbnail_uri, prediction.resized_image_uri, export.download_uri):
        path = uri.split("?")[0].removeprefix(base)  # a link's path after /blobs/, without its signature
        assert artifact(path) == httpx.get(uri).content, path
    assert artifact(f"images/{image.id}/original")[:2] == b"\xff\xd8"

    other = trainer.create_project(f"other {uuid.uuid4().hex[:8]}")
    refused = [f"images/{image.id}/../{image.id}/original", f"../images/{image.id}/original",
               f"/images/{image.id}/original", f"images%2F{image.id}%2Foriginal", f"images\\{image.id}\\original",
               f"images/{image.id}/original%00", "images/../../../etc/passwd", "/etc/passwd", "keys.json",
               f"images/{uuid.uuid4()}/original"]
    for path in refused:
        assert _code(lambda: artifact(path)) == (400, "BadRequestInvalidArtifactUri"), path
    assert _code(lambda: b"".join(trainer.get_artifact(other.id, f"images/{image.id}/original"))) == \
        (400, "BadRequestInvalidArtifactUri")  # another project's image
    assert _code(lambda: b"".join(trainer.get_artifact(str(uuid.uuid4()), "x"))) == (404, "NotFoundProject")
    trainer.delete_project(other.id)
