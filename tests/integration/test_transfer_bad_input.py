"""Bad input to `cvops export` / `import` / `migrate` gets one clear line and changes nothing: a source project
that does not exist, a target project with other tags (unless --merge), a manifest naming a missing image, a
file changed since the export, a folder that is not an export; an image the target refuses is named by file
while the rest is imported, and the exit code says so."""
from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from azure.cognitiveservices.vision.customvision.training.models import ImageFileCreateEntry

from harness.images import photo
from harness.pipeline import cvops, unique
from tests.integration import projects
from tests.integration.projects import contents, multiclass, project_id, upload

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exported(cvlocal_service, trainer, tmp_path_factory):
    """A small Multiclass project on the session's service and its export folder."""
    name = unique("Small colours")
    pid = multiclass(trainer, name, per_tag=6)
    folder = tmp_path_factory.mktemp("exported") / "export"
    result = cvops("export", name, str(folder), "--from", cvlocal_service.endpoint, env=env_of(cvlocal_service),
                   cwd=folder.parent)
    assert result.exit_code == 0, result.output
    return name, pid, folder


def env_of(service) -> dict[str, str]:
    return {"CVOPS_SOURCE_TRAINING_KEY": service.training_key, "CVOPS_TARGET_TRAINING_KEY": service.training_key}


def import_copy(service, folder, tmp_path, *args):
    return cvops("import", str(folder), "--to", service.endpoint, *args, env=env_of(service), cwd=tmp_path)


def copy(folder, tmp_path):
    return shutil.copytree(folder, tmp_path / "copy")


def test_a_source_project_that_does_not_exist(cvlocal_service, tmp_path):
    result = cvops("export", "No Such Project", str(tmp_path / "out"), "--from", cvlocal_service.endpoint,
                   env=env_of(cvlocal_service), cwd=tmp_path)
    assert result.exit_code == 2, result.output
    assert "no project 'No Such Project' at http://127.0.0.1" in result.stderr and "projects there:" in result.stderr
    assert not (tmp_path / "out").exists()
    migrated = cvops("migrate", "00000000-0000-0000-0000-000000000000", "--from", cvlocal_service.endpoint,
                     "--to", cvlocal_service.endpoint, env=env_of(cvlocal_service), cwd=tmp_path)
    assert migrated.exit_code == 2 and "no project '00000000-0000-0000-0000-000000000000'" in migrated.stderr
    assert cvlocal_service.training_key not in result.output + migrated.output


def test_a_wrong_key_and_a_missing_key(cvlocal_service, tmp_path):
    wrong = cvops("export", "Anything", str(tmp_path / "out"), "--from", cvlocal_service.endpoint,
                  env={"CVOPS_SOURCE_TRAINING_KEY": "0" * 32}, cwd=tmp_path)
    assert wrong.exit_code == 1 and "HTTP 401" in wrong.stderr, wrong.output
    nowhere = cvops("import", str(tmp_path), env={}, cwd=tmp_path)
    assert nowhere.exit_code == 2 and "no target service: give --to URL" in nowhere.stderr, nowhere.output


def test_a_target_with_other_tags_is_refused_unless_merge(exported, cvlocal_service, trainer, tmp_path):
    _, source_id, folder = exported
    name = unique("Pets")
    target = trainer.create_project(name, classification_type="Multiclass")
    cat = trainer.create_tag(target.id, "cat").id
    upload(trainer, target.id, [ImageFileCreateEntry(name="cat.jpg", contents=photo("green", 999), tag_ids=[cat])])
    before = contents(trainer, target.id)

    refused = import_copy(cvlocal_service, folder, tmp_path, "--project", name)
    assert refused.exit_code == 2, refused.output
    assert f"project {name!r}" in refused.stderr and "cat are not in it" in refused.stderr \
        and "--merge" in refused.stderr
    assert contents(trainer, target.id) == before and set(projects.tags(trainer, target.id)) == {"cat"}

    merged = import_copy(cvlocal_service, folder, tmp_path, "--project", name, "--merge", "--json")
    assert merged.exit_code == 0, merged.output
    assert json.loads(merged.stdout)["uploaded"] == 24
    assert contents(trainer, target.id) == {**before, **contents(trainer, source_id)}
    assert set(projects.tags(trainer, target.id)) == {"cat", "blue", "green", "red", "yellow"}


def test_a_target_of_the_other_classification_type_is_refused(exported, cvlocal_service, trainer, tmp_path):
    name = unique("Labels")
    trainer.create_project(name, classification_type="Multilabel")
    refused = import_copy(cvlocal_service, exported[2], tmp_path, "--project", name, "--merge")
    assert refused.exit_code == 2 and "is Multilabel, the export is Multiclass" in refused.stderr, refused.output


def test_a_manifest_naming_a_missing_image(exported, cvlocal_service, trainer, tmp_path):
    folder = copy(exported[2], tmp_path)
    gone = json.loads((folder / "manifest.json").read_text())["images"][3]["path"]
    (folder / gone).unlink()
    name = unique("Missing image")
    result = import_copy(cvlocal_service, folder, tmp_path, "--project", name)
    assert result.exit_code == 2, result.output
    assert f"{gone}: file not found (named in manifest.json)" in result.stderr
    assert project_id(trainer, name) is None  # nothing was created


def test_a_file_changed_since_the_export_and_a_folder_that_is_no_export(exported, cvlocal_service, trainer,
                                                                        tmp_path):
    folder = copy(exported[2], tmp_path)
    changed = json.loads((folder / "manifest.json").read_text())["images"][0]["path"]
    (folder / changed).write_bytes(photo("red", 4242))
    name = unique("Changed image")
    result = import_copy(cvlocal_service, folder, tmp_path, "--project", name)
    assert result.exit_code == 2 and "its SHA-256 is not the one the manifest records" in result.stderr, result.output
    assert project_id(trainer, name) is None
    not_export = import_copy(cvlocal_service, tmp_path / "nothing-here", tmp_path)
    assert not_export.exit_code == 2 and "project.json: not found" in not_export.stderr, not_export.output
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    busy = cvops("export", exported[0], str(tmp_path / "busy"), "--from", cvlocal_service.endpoint,
                 env=env_of(cvlocal_service), cwd=tmp_path)
    assert busy.exit_code == 2 and "is not empty and holds no export" in busy.stderr, busy.output


def test_an_image_the_target_refuses_is_named_and_the_rest_goes_on(exported, cvlocal_service, trainer, tmp_path):
    folder = copy(exported[2], tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    broken = manifest["images"][5]
    data = (folder / broken["path"]).read_bytes()[:300]  # a JPEG cut short: the service cannot decode it
    (folder / broken["path"]).write_bytes(data)
    broken.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    name = unique("Refused image")
    result = import_copy(cvlocal_service, folder, tmp_path, "--project", name, "--train", "--json")
    assert result.exit_code == 2, result.output
    assert f"{broken['path']}: ErrorImageFormat" in result.stderr and "the other images were imported" in result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["failures"] == [{"file": broken["path"], "status": "ErrorImageFormat"}]
    assert outcome["uploaded"] == 23 and outcome["training"] is None  # nothing trained on a partial import
    pid = project_id(trainer, name)
    assert trainer.get_tagged_image_count(pid) == 23 and not trainer.get_iterations(pid)
