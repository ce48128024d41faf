"""What `cvlocal serve` says as it starts (the variables a pipeline and the quickstarts read, an address other
machines reach), the keys it refuses, `--version`, and /health and /ready, without a key, on a real process."""
from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from cvlocal.commands.startup import PIPELINE_VARIABLES, QUICKSTART_VARIABLES
from harness.process import free_port
from harness.service import RunningService
from pipeline.config import settings as pipeline_settings

ROOT = Path(__file__).resolve().parents[2]
KEY = "k" * 32


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("CVLOCAL_")}


@contextmanager
def serving(data_dir: Path, *args: str):
    """A `cvlocal serve` child, yielded with what it printed up to "Uvicorn running" once it listens."""
    process = subprocess.Popen([sys.executable, "-m", "cvlocal", "serve", "--data-dir", str(data_dir), *args],
                               cwd=ROOT, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines, deadline = [], time.monotonic() + 90
    try:
        for line in process.stdout:
            lines.append(line)
            if "Uvicorn running" in line or time.monotonic() > deadline:
                break
        yield "".join(lines)
    finally:
        process.terminate()
        process.wait(15)


def _exports(text: str) -> dict[str, str]:
    return dict(re.findall(r"^export (\w+)=(.*)$", text, re.MULTILINE))


def test_the_block_uses_the_pipelines_variable_names_then_the_quickstarts():
    assert PIPELINE_VARIABLES == {s.field: s.variable for s in pipeline_settings.SETTINGS}
    assert QUICKSTART_VARIABLES == {field: name.replace("CUSTOM_VISION_", "VISION_")
                                    for field, name in PIPELINE_VARIABLES.items()}


@pytest.mark.slow
def test_a_first_start_prints_both_blocks_and_a_later_one_reads_the_keys_from_the_data_dir(tmp_path):
    port = free_port()
    with serving(tmp_path / "data", "--port", str(port)) as first:
        pass
    kept = json.loads((tmp_path / "data" / "keys.json").read_text())
    pipeline_block, quickstart_block = first.split("# For Microsoft's")
    assert list(_exports(pipeline_block)) == list(PIPELINE_VARIABLES.values())
    assert list(_exports(quickstart_block)) == list(QUICKSTART_VARIABLES.values())
    exported = _exports(first)
    assert exported["CUSTOM_VISION_TRAINING_ENDPOINT"] == exported["VISION_PREDICTION_ENDPOINT"] == \
        f"http://localhost:{port}/"
    assert exported["CUSTOM_VISION_TRAINING_KEY"] == exported["VISION_TRAINING_KEY"] == kept["trainingKey"]
    assert exported["CUSTOM_VISION_PREDICTION_KEY"] == kept["predictionKey"]
    assert kept["trainingKey2"] not in first  # key 2s are shown only when asked for

    with serving(tmp_path / "data", "--port", str(port)) as second:
        pass
    assert kept["trainingKey"] not in second and kept["predictionKey"] not in second
    # the printed lines, pasted into a shell, give the kept keys
    lines = "\n".join(f"export {n}={v}" for n, v in _exports(second).items())
    shell = subprocess.run(["bash", "-c", f'{lines}\necho "$CUSTOM_VISION_TRAINING_KEY $VISION_PREDICTION_KEY"'],
                           capture_output=True, text=True, env=_clean_env(), timeout=120)
    assert shell.stdout.split() == [kept["trainingKey"], kept["predictionKey"]], shell.stderr


@pytest.mark.slow
def test_listening_on_every_interface_prints_an_address_other_machines_reach(tmp_path):
    with serving(tmp_path / "data", "--host", "0.0.0.0", "--port", str(free_port()), "--training-key", KEY,
                 "--prediction-key", "p" * 32) as block:
        endpoint = _exports(block)["CUSTOM_VISION_TRAINING_ENDPOINT"]
        host = urlsplit(endpoint).hostname
        assert host not in ("0.0.0.0", "localhost") and not (_is_ip(host) and ipaddress.ip_address(host).is_loopback)
        assert httpx.get(endpoint + "health", timeout=10).status_code == 200  # it really is this service
    assert "<the --training-key you passed>" in block and KEY not in block


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def test_too_short_keys_are_refused_saying_the_minimum(tmp_path):
    for args in (["--training-key", "too-short-1234"], ["--prediction-key", "x" * 31]):
        result = subprocess.run([sys.executable, "-m", "cvlocal", "serve", "--data-dir", str(tmp_path / "d"),
                                 "--port", str(free_port()), *args], cwd=ROOT, env=_clean_env(),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, result.stderr
        assert "at least 32" in result.stderr and args[1] not in result.stderr + result.stdout


def test_version():
    result = subprocess.run([sys.executable, "-m", "cvlocal", "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and re.fullmatch(r"cvlocal \d+\.\d+\.\d+\S*\n", result.stdout)


@pytest.mark.slow
def test_health_and_ready_answer_without_a_key_and_ready_says_why_not(fresh_service):
    service = fresh_service.start()
    assert httpx.get(service.endpoint + "/health").json()["status"] == "ok"
    ready = _until_ready(service)
    assert ready.json()["checks"] == {"store": "ok", "backbone": "ok", "dataDir": "ok"}
    assert httpx.head(service.endpoint + "/ready").status_code == 200
    # the data directory disappears under the running service (a volume unmounted, a careless rm -rf)
    moved = service.data_dir.with_name("moved")
    service.data_dir.rename(moved)
    try:
        not_ready = httpx.get(service.endpoint + "/ready")
        assert not_ready.status_code == 503
        assert not_ready.json()["checks"]["dataDir"].startswith(f"the data directory {service.data_dir} cannot be")
        assert "dataDir" in not_ready.json()["reason"]
        assert not_ready.json()["checks"]["store"].endswith(f"the blob folder {service.data_dir / 'blobs'} is not "
                                                            "readable and writable")  # the blobs are in it
        assert httpx.get(service.endpoint + "/health").status_code == 200  # alive, only not ready
    finally:
        moved.rename(service.data_dir)
    assert httpx.get(service.endpoint + "/ready").status_code == 200
    # outside the Custom Vision routes: no faults, no key, and a key-shaped route still needs its key
    assert httpx.get(service.endpoint + "/customvision/v3.3/training/health").status_code == 401


def _until_ready(service: RunningService, timeout: float = 60) -> httpx.Response:
    """/ready answers 503 ("backbone: building") for the first seconds after a start."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(service.endpoint + "/ready")
        if response.status_code == 200 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            return response
        assert response.status_code == 503 and "backbone: building" in response.json()["reason"], response.text
        time.sleep(0.2)

