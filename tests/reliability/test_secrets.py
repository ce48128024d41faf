"""Secrets: with known keys, nothing the pipeline or the service writes (log lines at every level, reports, the
GitHub summary and outputs, error messages, `--help`) contains a key, a wrong key included. The service prints
keys only when it generated them, once."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.pipeline import ROOT, cvops, write_config
from harness.process import free_port

pytestmark = [pytest.mark.datasets, pytest.mark.slow]
TRAINING_KEY = "trainingSECRET-5f1c9a0e7b2d4c68a"  # cvlocal takes keys of 32+ characters
PREDICTION_KEY = "predictionSECRET-8e3b71d2a9f04c5e"
WRONG_KEY = "wrongSECRET-0b9d8c7e6f5a4b3c"
SECRETS = (TRAINING_KEY, PREDICTION_KEY, WRONG_KEY)


def leaks(text: str) -> list[str]:
    """The secrets (or a good part of one) that `text` contains."""
    return [s for s in SECRETS if s in text or s[-12:] in text]


def test_no_key_in_logs_reports_errors_or_help(fresh_service, datasets, tmp_path):
    fresh_service.training_key, fresh_service.prediction_key = TRAINING_KEY, PREDICTION_KEY
    fresh_service.extra_args = ["--log-level", "debug", "--faults", "429=0.1,503=0.05,lost=0.05,retry-after=0,seed=5"]
    service = fresh_service.start()
    env = {**service.environment(), "CVOPS_DATASETS": str(datasets),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "GITHUB_OUTPUT": str(tmp_path / "outputs")}
    config = write_config(tmp_path / "groceries.yaml", upload={"batch_images": 16})
    texts: dict[str, str] = {}

    def run(name: str, *args: str, expect: int | None = 0, environment=None):
        result = cvops(*args, "--verbose", env=environment or env, cwd=tmp_path)
        if expect is not None:
            assert result.exit_code == expect, result.output
        texts[name] = result.output
        return result

    run("run", "run", str(config))
    assert "retry" in texts["run"]  # the verbose log has lines about the faults
    run("rerun", "run", str(config))
    run("plan", "plan", str(config), "--json")
    run("status", "status", str(config), "--json")
    run("classify", "classify", "--config", str(config), str(next((datasets / "fruit-extra").glob("*/*.jpg"))))
    wrong_training = {**env, "CUSTOM_VISION_TRAINING_KEY": WRONG_KEY}
    assert "HTTP 401" in run("wrong training key", "run", str(config), expect=1, environment=wrong_training).stderr
    wrong_prediction = {**env, "CUSTOM_VISION_PREDICTION_KEY": WRONG_KEY}
    assert "HTTP 401" in run("wrong prediction key", "classify", "--config", str(config), "--project-id",
                             "00000000-0000-0000-0000-000000000000",  # an image: cvops refuses other files itself
                             str(next((datasets / "fruit-extra").glob("*/*.jpg"))), expect=None,
                             environment=wrong_prediction).output
    # a key put where a number belongs: the config error names the field, not the value
    misplaced = write_config(tmp_path / "misplaced.yaml", service={"max_attempts": "${CUSTOM_VISION_TRAINING_KEY}"})
    run("misplaced key", "validate", str(misplaced), expect=2)
    service_env = {"CVLOCAL_TRAINING_KEY": TRAINING_KEY, "CVLOCAL_PREDICTION_KEY": PREDICTION_KEY}
    helps = [(["-m", "pipeline", *args], env) for args in ([], ["run"], ["plan"], ["validate"], ["classify"],
                                                          ["status"], ["rollback"])]
    helps += [(["-m", "cvlocal", *args], service_env) for args in ([], ["serve"])]
    with ThreadPoolExecutor(4) as pool:
        for (args, _), text in zip(helps, pool.map(lambda h: _help(*h), helps)):
            texts[" ".join(args) + " --help"] = text
    for path in [*(tmp_path / "out").rglob("*.*"), tmp_path / "summary.md", tmp_path / "outputs"]:
        texts[path.name] = path.read_text()
    service.stop()
    texts["service log (debug)"] = service.log()
    assert "injected fault" in texts["service log (debug)"] and "Iteration 1" in texts["outputs"] + texts["run"]
    found = {name: leaks(text) for name, text in texts.items() if leaks(text)}
    assert not found, found


def _help(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([sys.executable, *args, "--help"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def _banner(data_dir: Path, env: dict[str, str], *args: str) -> str:
    """What `cvlocal serve` prints before it serves; the process is stopped once it serves."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CVLOCAL_")}
    process = subprocess.Popen([sys.executable, "-m", "cvlocal", "serve", "--port", str(free_port()), "--data-dir",
                                str(data_dir), *args], cwd=ROOT, env={**clean, **env},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    deadline = time.monotonic() + 60
    try:
        for line in process.stdout:
            lines.append(line)
            if "Uvicorn running" in line or time.monotonic() > deadline:
                break
    finally:
        process.terminate()
        process.wait(15)
    return "".join(lines)


def test_the_service_prints_keys_only_when_it_generated_them_and_only_once(tmp_path):
    given = {"CVLOCAL_TRAINING_KEY": TRAINING_KEY, "CVLOCAL_PREDICTION_KEY": PREDICTION_KEY}
    from_env = _banner(tmp_path / "env", given)
    assert "${CVLOCAL_TRAINING_KEY}" in from_env and not leaks(from_env)
    # keys given by flag: every test service starts so; the log checked above starts with its banner
    first = _banner(tmp_path / "generated", {})
    keys = json.loads((tmp_path / "generated" / "keys.json").read_text())
    assert keys["trainingKey"] in first and keys["predictionKey"] in first  # by design: shown once
    assert (tmp_path / "generated" / "keys.json").stat().st_mode & 0o777 == 0o600
    second = _banner(tmp_path / "generated", {})
    assert keys["trainingKey"] not in second and keys["predictionKey"] not in second and "keys.json" in second
