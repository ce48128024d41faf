"""The friction a new user met, each reproduced through the command line against the real service: skipped
files named, an empty dataset said so, a mistyped domain pointed at its line, `plan` in counts (files with -v),
a dataset over the F0 tier's limits refused before anything is uploaded, tag names matched whatever their
case."""
from __future__ import annotations

import shutil

import pytest

from harness.images import photo
from harness.pipeline import cvops, unique, write_config


def copy_fruit(datasets, tmp_path):
    data = tmp_path / "fruit"
    shutil.copytree(datasets / "fruit", data)
    return data


def test_validate_counts_and_names_what_it_skipped(env, datasets, tmp_path):
    data = copy_fruit(datasets, tmp_path)
    (data / "apple" / "notes.txt").write_text("picked in October")
    (data / "banana" / "ripe.webp").write_bytes(b"RIFF\0\0\0\0WEBPVP8 ")
    (data / "kiwi").mkdir()
    config = write_config(tmp_path / "c.yaml", dataset={"path": str(data)})
    result = cvops("validate", str(config), env=env, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    assert "45 images" in result.stdout and "skipped 3 file(s) or folder(s)" in result.stdout
    assert "apple/notes.txt: not an image" in result.stdout
    assert "banana/ripe.webp: unsupported image format .webp" in result.stdout
    assert "kiwi: empty tag folder" in result.stdout


def test_an_empty_dataset_says_no_images_found(env, tmp_path):
    data = tmp_path / "empty"
    (data / "apple").mkdir(parents=True)
    config = write_config(tmp_path / "c.yaml", dataset={"path": str(data)})  # smoke tests still expect tags
    for command in ("validate", "plan"):
        result = cvops(command, str(config), env=env, cwd=tmp_path)
        assert result.exit_code == 2, result.output
        assert "no images found in" in result.stderr and "no tag 'apple'" not in result.stderr, result.stderr


@pytest.fixture
def env(service_env):
    return service_env


@pytest.fixture
def sdk(service_env):
    """The official SDK's training client for the service the pipeline runs against."""
    from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
    from msrest.authentication import ApiKeyCredentials
    credentials = ApiKeyCredentials(in_headers={"Training-key": service_env["CUSTOM_VISION_TRAINING_KEY"]})
    return CustomVisionTrainingClient(service_env["CUSTOM_VISION_TRAINING_ENDPOINT"], credentials)


def test_a_mistyped_domain_names_its_line_and_the_domain_meant(env, tmp_path):
    config = write_config(tmp_path / "c.yaml", project={"name": unique("Typo"), "domain": "Generl (compact)"})
    result = cvops("plan", str(config), env=env, cwd=tmp_path)
    assert result.exit_code == 2, result.output
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if "Generl" in text)
    assert result.stderr.startswith(f"error: {config}:{line}: project.domain: no classification domain called "
                                    "'Generl (compact)' (did you mean 'General (compact)'?)"), result.stderr


def test_plan_summarises_and_lists_files_with_v(env, tmp_path):
    config = write_config(tmp_path / "c.yaml", project={"name": unique("Plan summary")})
    summary = cvops("plan", str(config), env=env, cwd=tmp_path)
    assert summary.exit_code == 0, summary.output
    assert "images: 45 to upload" in summary.stdout and "(-v lists them)" in summary.stdout
    assert "+ apple/" not in summary.stdout
    listed = cvops("plan", str(config), "-v", env=env, cwd=tmp_path)
    assert listed.exit_code == 0, listed.output
    assert sum(line.startswith("  + ") for line in listed.stdout.splitlines()) == 45


def test_over_the_f0_limits_is_refused_before_any_upload(env, sdk, tmp_path):
    data = tmp_path / "many-tags"
    for t in range(51):
        (data / f"tag{t:02d}").mkdir(parents=True)
        for i in range(5):
            (data / f"tag{t:02d}" / f"{i}.jpg").write_bytes(b"\xff\xd8\xff\xe0" + f"{t}-{i}".encode() * 8)
    name = unique("Too many tags")
    config = write_config(tmp_path / "f0.yaml", project={"name": name}, dataset={"path": str(data)},
                          service={"tier": "F0"}, smoke_test=[], gates=None)
    for command in ("validate", "plan", "run"):
        result = cvops(command, str(config), env=env, cwd=tmp_path)
        assert result.exit_code == 2, result.output
        assert "the dataset is over the limits of service.tier F0: 51 tags; a F0 project holds at most 50" \
            in result.stderr, result.stderr
    assert name not in [p.name for p in sdk.get_projects()]

    # the F0 account's two projects are taken: a third is refused by plan (and run) before it is made
    for _ in range(2):
        sdk.create_project(unique("Taken"))
    fruit = write_config(tmp_path / "third.yaml", project={"name": unique("Third")}, service={"tier": "F0"})
    result = cvops("plan", str(fruit), env=env, cwd=tmp_path)
    assert result.exit_code == 2 and "service.tier F0 allows 2: delete one or use the S0 tier" in result.stderr, \
        result.output


def test_tag_names_match_whatever_their_case(env, sdk, datasets, tmp_path):
    name = unique("Tag case")
    project = sdk.create_project(name)
    sdk.create_tag(project.id, "Apple")  # the project was labelled in the portal as "Apple"
    config = write_config(tmp_path / "c.yaml", project={"name": name, "domain": "General"},
                          gates={"per_tag": {"APPLE": {"recall": 0.5}}}, report={"json": "r.json"})
    plan = cvops("plan", str(config), env=env, cwd=tmp_path)
    assert plan.exit_code == 0 and "tags to create: banana, orange" in plan.stdout, plan.output
    run = cvops("run", str(config), env=env, cwd=tmp_path)
    assert run.exit_code == 0, run.output
    assert sorted(t.name for t in sdk.get_tags(project.id)) == ["Apple", "banana", "orange"]
    assert "gate pass: tag APPLE recall" in run.stderr and "gate pass: smoke test apple5.jpg" in run.stderr
