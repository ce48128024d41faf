"""The pipeline talks while it works: a wrong port fails fast and says so, retries say what they wait for,
`--version` answers. (Pacing against a throttling service: test_pipeline_pacing.py.)"""
from __future__ import annotations

import re
import socket

from harness.pipeline import GROCERIES, ROOT, cvops, service_section, unique, write_config


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_wrong_loopback_port_fails_fast_and_names_the_endpoint(datasets, tmp_path):
    endpoint = f"http://127.0.0.1:{free_port()}"
    env = {"CUSTOM_VISION_TRAINING_ENDPOINT": endpoint, "CUSTOM_VISION_PREDICTION_ENDPOINT": endpoint,
           "CUSTOM_VISION_PREDICTION_RESOURCE_ID": "/subscriptions/x/accounts/p",
           "CUSTOM_VISION_TRAINING_KEY": "never-printed-key-42", "CVOPS_DATASETS": str(datasets)}
    result = cvops("plan", str(GROCERIES), env=env, cwd=tmp_path, timeout=200)  # default: 8 attempts
    assert result.exit_code == 1, result.output
    assert result.seconds < 15, f"{result.seconds:.0f} s before failing"  # was 87 s, silent
    assert result.stderr.startswith(f"error: get_projects: nothing is listening at {endpoint}"), result.stderr
    assert "is the service running" in result.stderr and "never-printed-key-42" not in result.output


def test_version():
    result = cvops("--version", env={}, cwd=ROOT)
    assert result.exit_code == 0 and result.stdout.startswith("cvops ") and \
        "azure-cognitiveservices-vision-customvision 3." in result.stdout, result.output


def test_retries_are_said_as_they_happen(fresh_service, datasets, tmp_path):
    fresh_service.extra_args = ["--faults", "503=0.4,retry-after=0,seed=9"]
    service = fresh_service.start()
    env = {**service.environment(), "CVOPS_DATASETS": str(datasets)}
    config = write_config(tmp_path / "c.yaml", project={"name": unique("Retries said")})
    result = cvops("plan", str(config), env=env, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    said = [line for line in result.stderr.splitlines() if ": retrying " in line]
    assert said and all(re.fullmatch(r"\w+: retrying [2-8]/8 in \d+\.\d s \(HTTP 503[^)]*\)", line) for line in said), \
        result.stderr


def test_a_ci_log_shows_each_batch_the_pace_and_the_training(service_env, tmp_path):
    config = write_config(tmp_path / "c.yaml", project={"name": unique("CI log")}, upload={"batch_images": 16},
                          service={**service_section(), "tier": "S0"}, report={"json": "report.json"})
    result = cvops("run", str(config), env=service_env, cwd=tmp_path)  # stderr is a pipe, as in CI
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert "pacing at 10 requests/s (S0)" in lines
    assert [line for line in lines if line.startswith("uploading images: ")] == [
        "uploading images: 45 ...", "uploading images: 16/45", "uploading images: 32/45", "uploading images: 45/45"]
    assert any(line.startswith("training Iteration 1: ") for line in lines), lines
    assert not any("HTTP 429" in line for line in lines), lines  # paced, not bounced (against a tiered service)
