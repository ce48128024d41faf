"""The command line as a user meets it: arguments, exit codes, and one clear line for each bad config or
input (file, line, what to fix). Bad datasets are refused before anything reaches the service."""
from __future__ import annotations

import shutil

import pytest

from harness.pipeline import GROCERIES, cvops, unique, write_config

FAKE_SERVICE = {"CUSTOM_VISION_TRAINING_ENDPOINT": "http://127.0.0.1:9", "CUSTOM_VISION_PREDICTION_ENDPOINT":
                "http://127.0.0.1:9", "CUSTOM_VISION_PREDICTION_RESOURCE_ID": "/subscriptions/x/accounts/p",
                "CUSTOM_VISION_TRAINING_KEY": "never-printed-key-42"}


@pytest.fixture
def env(datasets):
    return {**FAKE_SERVICE, "CVOPS_DATASETS": str(datasets)}


def test_usage_errors_exit_2(tmp_path):
    assert cvops(env={}, cwd=tmp_path).exit_code == 2
    assert cvops("launch", env={}, cwd=tmp_path).exit_code == 2
    assert cvops("classify", "x.jpg", env={}, cwd=tmp_path).exit_code == 2  # --config is required
    helped = cvops("--help", env={}, cwd=tmp_path)
    assert helped.exit_code == 0 and all(c in helped.stdout for c in
                                         ("validate", "plan", "run", "classify", "status", "rollback"))


def test_validate_needs_no_network(env, tmp_path):
    result = cvops("validate", str(GROCERIES), env=env, cwd=tmp_path)  # the endpoint does not exist
    assert result.exit_code == 0, result.output
    assert "45 images" in result.stdout and "banana (15)" in result.stdout


@pytest.mark.parametrize("case, change, line, expected", [
    ("unknown field", {"publish": {"name": "groceries", "keep": 3}}, None,
     "publish.keep: unknown field 'keep'; allowed here: name, keep_iterations"),
    ("wrong type", {"training": {"timeout_minutes": "an hour"}}, None,
     "training.timeout_minutes: Input should be a valid number"),
    ("missing file", {"dataset": {"path": "/nowhere/fruit"}}, None, "dataset.path: no such folder: /nowhere/fruit"),
    ("missing smoke image", {"smoke_test": [{"image": "/nowhere/a.jpg", "expect": "apple"}]}, None,
     "smoke_test[0].image: no such file: /nowhere/a.jpg"),
    ("unknown tag in a gate", {"gates": {"per_tag": {"bananas": {"recall": 0.9}}}}, None,
     "gates.per_tag.bananas: no tag 'bananas' in the dataset (did you mean 'banana'?"),
    ("undefined variable", {"publish": {"name": "${PUBLISH_NAME_NOT_SET}"}}, None,
     "publish.name: environment variable PUBLISH_NAME_NOT_SET is not set: set it, or write "
     "${PUBLISH_NAME_NOT_SET:-default}"),
])
def test_bad_configs_exit_2_with_file_line_and_fix(env, tmp_path, case, change, line, expected):
    config = write_config(tmp_path / "bad.yaml", **change)
    lines = config.read_text().splitlines()
    for command in ("validate", "run", "plan"):
        result = cvops(command, str(config), env=env, cwd=tmp_path)
        assert result.exit_code == 2, (case, command, result.output)
        first = next(line for line in result.stderr.splitlines() if line.startswith("error:"))
        assert first.startswith(f"error: {config}:"), first
        number = int(first.split(":")[2])
        key = expected.split(":")[0].split(".")[-1].split("[")[0]
        assert key in lines[number - 1], (case, number, lines[number - 1])
        assert expected in result.stderr, result.stderr
        assert "never-printed-key-42" not in result.output


def test_bad_yaml_and_missing_config(env, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("project:\n  name: x\n dataset: [\n")
    result = cvops("run", str(broken), env=env, cwd=tmp_path)
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {broken}:3: invalid YAML")
    result = cvops("run", str(tmp_path / "absent.yaml"), env=env, cwd=tmp_path)
    assert result.exit_code == 2 and "config file not found" in result.stderr


def test_small_tag_is_refused_before_any_upload(pipeline_service, service_env, datasets, tmp_path):
    data = tmp_path / "fruit"
    shutil.copytree(datasets / "fruit", data)
    for image in sorted((data / "banana").iterdir())[3:]:
        image.unlink()
    name = unique("Too few bananas")
    config = write_config(tmp_path / "few.yaml", project={"name": name}, dataset={"path": str(data)},
                          smoke_test=[])
    result = cvops("run", str(config), env=service_env, cwd=tmp_path)
    assert result.exit_code == 2, result.output
    assert "tag 'banana' has 3 images" in result.stderr and "at least 5" in result.stderr
    from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
    from msrest.authentication import ApiKeyCredentials
    trainer = CustomVisionTrainingClient(pipeline_service.endpoint,
                                         ApiKeyCredentials(in_headers={"Training-key": pipeline_service.training_key}))
    assert name not in [p.name for p in trainer.get_projects()]


def test_unreachable_service_is_one_line_exit_1(env, tmp_path):
    config = write_config(tmp_path / "c.yaml", service={"max_attempts": 2})
    result = cvops("plan", str(config), env=env, cwd=tmp_path, timeout=120)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: get_projects: nothing is listening at http://127.0.0.1:9 ")
    assert "Traceback" not in result.stderr and "never-printed-key-42" not in result.output


def test_wrong_key_is_named_without_printing_it(service_env, tmp_path):
    env = {**service_env, "CUSTOM_VISION_TRAINING_KEY": "wrong-key-0123456789"}
    result = cvops("plan", str(GROCERIES), env=env, cwd=tmp_path)
    assert result.exit_code == 1, result.output
    assert "HTTP 401" in result.stderr and "check the key" in result.stderr
    assert "wrong-key-0123456789" not in result.output


def test_classify_missing_file_is_bad_input(env, tmp_path):
    result = cvops("classify", "--config", str(GROCERIES), str(tmp_path / "nope.jpg"), env=env, cwd=tmp_path)
    assert result.exit_code == 2 and "no such image file" in result.stderr


def test_stack_option_without_pulumi_is_bad_input(env, tmp_path):
    import shutil as which
    if which.which("pulumi"):
        pytest.skip("the Pulumi CLI is installed here")
    result = cvops("plan", str(GROCERIES), "--stack", "nosuch", env=env, cwd=tmp_path)
    assert result.exit_code == 2 and "error: Pulumi stack 'nosuch': the Pulumi CLI is not installed" in result.stderr
    offline = cvops("validate", str(GROCERIES), "--stack", "nosuch", env=env, cwd=tmp_path)
    assert offline.exit_code == 0, offline.output  # validate never calls Pulumi


def test_images_the_service_refuses_are_named_and_stop_before_training(service_env, datasets, tmp_path):
    data = tmp_path / "fruit"
    shutil.copytree(datasets / "fruit", data)
    whole = sorted((data / "apple").iterdir())[0].read_bytes()
    (data / "apple" / "broken.jpg").write_bytes(whole[:2000])  # a JPEG cut short: right magic, no image
    name = unique("Refused images")
    config = write_config(tmp_path / "c.yaml", project={"name": name}, dataset={"path": str(data)}, smoke_test=[],
                          report={"json": "report.json"})
    result = cvops("run", str(config), env=service_env, cwd=tmp_path)
    assert result.exit_code == 2, result.output
    assert "1 image(s) refused by the service: apple/broken.jpg: Error" in result.stderr
    import json
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["uploads"]["uploaded"] == 45 and report["uploads"]["failures"][0][0] == "apple/broken.jpg"
    assert report["training"] == {} and report["outcome"] == "failed" and report["exit_code"] == 2
