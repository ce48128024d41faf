"""The pipeline talks while it works: a wrong port fails fast and says so, retries say what they wait for,
`--version` answers. (Pacing against a throttling service: test_pipeline_pacing.py.)"""
from __future__ import annotations

import socket

from harness.pipeline import GROCERIES, cvops, write_config


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
