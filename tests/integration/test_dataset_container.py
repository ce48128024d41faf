"""Datasets in Azure Blob Storage (Azurite, over azure-storage-blob): the groceries config run from a container
publishes the same model as from the folder; an export written to a container is a dataset too (its tag folders,
or its manifest blob); a rerun downloads nothing; a missing container, a wrong credential, a SAS in the config and
a non-image blob each get a clear error that changes nothing."""
from __future__ import annotations

import json
import uuid

import pytest
from azure.storage.blob import BlobServiceClient

from harness.azurite import ACCOUNT_KEY
from harness.pipeline import cvops, unique, write_config

pytestmark = [pytest.mark.datasets, pytest.mark.slow]


def fresh_container(azurite, files: dict[str, bytes] | None = None) -> str:
    name = f"c{uuid.uuid4().hex[:12]}"
    container = BlobServiceClient.from_connection_string(azurite.connection_string).create_container(name)
    for blob, data in (files or {}).items():
        container.upload_blob(blob, data)
    return name


def fruit_blobs(datasets, prefix: str) -> dict[str, bytes]:
    return {f"{prefix}{path.relative_to(datasets / 'fruit').as_posix()}": path.read_bytes()
            for path in sorted((datasets / "fruit").rglob("*.jpg"))}


def storage_env(azurite, **extra) -> dict[str, str]:
    return {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string, **extra}


def test_groceries_from_a_container_publish_what_the_folder_does(azurite, cvlocal_service, datasets, tmp_path):
    container = fresh_container(azurite, fruit_blobs(datasets, "groceries/training-images/"))
    env = {**cvlocal_service.environment(), "CVOPS_DATASETS": str(datasets), **storage_env(azurite)}
    from_folder = write_config(tmp_path / "folder.yaml", project={"name": unique("Grocery Checkout folder")},
                               report={"json": "folder/report.json"})
    from_blobs = write_config(tmp_path / "blobs.yaml", project={"name": unique("Grocery Checkout blobs")},
                              dataset={"container": container, "prefix": "groceries/training-images",
                                       "cache_dir": str(tmp_path / "cache"), "path": None},
                              report={"json": "blobs/report.json"})

    validated = cvops("validate", str(from_blobs), env=env, cwd=tmp_path)
    assert validated.exit_code == 0 and "is not downloaded yet" in validated.stdout, validated.output
    reports = {}
    for name, config in (("folder", from_folder), ("blobs", from_blobs)):
        run = cvops("run", str(config), env=env, cwd=tmp_path)
        assert run.exit_code == 0, run.output
        reports[name] = json.loads((tmp_path / name / "report.json").read_text())
    assert reports["blobs"]["outcome"] == "published" and reports["blobs"]["uploads"]["uploaded"] == 45
    assert reports["blobs"]["dataset"]["tags"] == reports["folder"]["dataset"]["tags"] == {
        "apple": 15, "banana": 15, "orange": 15}
    for part in ("overall", "per_tag"):
        assert reports["blobs"]["performance"][part] == reports["folder"]["performance"][part]
    assert sorted(reports["blobs"]["uploads"]["files"]) == sorted(reports["folder"]["uploads"]["files"])

    # a rerun lists the container and downloads nothing: the mirror's files are untouched
    mirrored = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*.jpg")}
    assert len(mirrored) == 45
    rerun = cvops("run", str(from_blobs), env=env, cwd=tmp_path)
    assert rerun.exit_code == 0, rerun.output
    assert json.loads((tmp_path / "blobs" / "report.json").read_text())["outcome"] == "up-to-date"
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*.jpg")} == mirrored
    assert ACCOUNT_KEY not in rerun.output + run.output


def test_an_export_in_a_container_is_a_dataset(azurite, cvlocal_service, datasets, tmp_path):
    name = unique("Grocery Checkout")
    env = {**cvlocal_service.environment(), "CVOPS_DATASETS": str(datasets), **storage_env(azurite)}
    ran = cvops("run", str(write_config(tmp_path / "seed.yaml", project={"name": name})), env=env, cwd=tmp_path)
    assert ran.exit_code == 0, ran.output
    container = f"exports{uuid.uuid4().hex[:8]}"
    export = ["export", name, str(tmp_path / "export"), "--container", container, "--prefix", "groceries", "--json"]
    first = cvops(*export, env=env, cwd=tmp_path)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["container"]["uploaded"] == 47  # 45 images, project.json, manifest.json
    again = cvops(*export, env=env, cwd=tmp_path)
    assert json.loads(again.stdout)["container"]["uploaded"] == 1, again.output  # project.json: its export time

    for layout, prefix in (("folder-per-tag", "groceries/images"), ("manifest", "groceries/manifest.json")):
        config = write_config(tmp_path / f"{layout}.yaml", project={"name": unique("From the export")},
                              dataset={"container": container, "prefix": prefix, "layout": layout, "path": None,
                                       "cache_dir": str(tmp_path / "cache")})
        plan = cvops("plan", str(config), "--json", env=env, cwd=tmp_path)
        assert plan.exit_code == 0, plan.output
        planned = json.loads(plan.stdout)
        assert planned["images"]["upload"] == 45 and planned["tags_to_create"] == ["apple", "banana", "orange"]


def test_the_autotrainer_layout_of_label_files(azurite, cvlocal_service, datasets, tmp_path):
    """Microsoft's Custom Vision Autotrainer keeps IMAGE and IMAGE.labels (one label a line) side by side."""
    blobs = {}
    for path in sorted((datasets / "fruit").rglob("*.jpg")):
        blobs[f"batch-1/{path.name}"] = path.read_bytes()
        blobs[f"batch-1/{path.name}.labels"] = f"{path.parent.name}\n".encode()
    blobs["batch-1/unlabelled.jpg"] = (datasets / "fruit-extra" / "apple" / "apple5.jpg").read_bytes()
    container = fresh_container(azurite, blobs)
    env = {**cvlocal_service.environment(), "CVOPS_DATASETS": str(datasets), **storage_env(azurite)}
    dataset = {"container": container, "layout": "label-files", "path": None, "cache_dir": str(tmp_path / "cache")}
    labelled = write_config(tmp_path / "labelled.yaml", project={"name": unique("Autotrainer")},
                            dataset=dataset)
    refused = cvops("plan", str(labelled), env=env, cwd=tmp_path)
    assert refused.exit_code == 2 and "unlabelled.jpg: 0 tags (none); a Multiclass project" in refused.stderr
    multilabel = write_config(tmp_path / "multilabel.yaml", dataset=dataset, smoke_test=[], gates={},
                              project={"name": unique("Autotrainer"), "classification_type": "Multilabel"})
    plan = cvops("plan", str(multilabel), "--json", env=env, cwd=tmp_path)
    assert plan.exit_code == 0, plan.output
    planned = json.loads(plan.stdout)
    assert planned["images"]["upload"] == 46 and planned["tags_to_create"] == ["apple", "banana", "orange"]
    assert "batch-1/unlabelled.jpg" in planned["images"]["files"]


@pytest.mark.parametrize("case", ["missing container", "wrong credential", "non-image blob", "SAS in the config",
                                  "missing manifest blob"])
def test_container_errors_say_what_to_fix(case, azurite, cvlocal_service, trainer, datasets, tmp_path):
    blobs = fruit_blobs(datasets, "fruit/")
    dataset = {"container": None, "prefix": "fruit", "path": None, "cache_dir": str(tmp_path / "cache")}
    env = {**cvlocal_service.environment(), "CVOPS_DATASETS": str(datasets), **storage_env(azurite)}
    wrong_key = "A" * 86 + "=="
    if case == "missing container":
        dataset["container"], expected = "no-such-container", "no container 'no-such-container'"
    elif case == "wrong credential":
        dataset["container"] = fresh_container(azurite, blobs)
        env["AZURE_STORAGE_CONNECTION_STRING"] = azurite.connection_string.replace(ACCOUNT_KEY, wrong_key)
        expected = "refused the credential (HTTP 403"
    elif case == "non-image blob":
        dataset["container"] = fresh_container(azurite, {**blobs, "fruit/apple/notes.jpg": b"not a picture"})
        expected = f"{dataset['container']}/fruit/apple/notes.jpg: not a JPEG, PNG, BMP or GIF image"
    elif case == "SAS in the config":
        del env["AZURE_STORAGE_CONNECTION_STRING"]
        dataset["container"] = fresh_container(azurite, blobs)
        dataset["account_url"] = f"{azurite.blob_endpoint}?sv=2024&sig=SECRETSIGNATURE123"
        expected = "holds a query string (a SAS token?)"
    else:
        dataset.update(container=fresh_container(azurite, blobs), layout="manifest", prefix="fruit/manifest.json")
        expected = "no manifest blob 'fruit/manifest.json'"
    name = unique("Container errors")
    config = write_config(tmp_path / "config.yaml", project={"name": name}, dataset=dataset)
    for command in ("validate", "plan") if case == "SAS in the config" else ("plan",):  # `run` checks as `plan` does
        result = cvops(command, str(config), env=env, cwd=tmp_path)
        assert result.exit_code == 2, result.output
        assert expected in result.stderr, result.stderr
        assert "Traceback" not in result.output
        for secret in (ACCOUNT_KEY, wrong_key, "SECRETSIGNATURE123"):
            assert secret not in result.output
    assert name not in {p.name for p in trainer.get_projects()}  # nothing was created
