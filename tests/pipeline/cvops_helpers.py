"""Helpers for the pipeline's tests: run `python -m pipeline` as a user would, with a config of the test's own.
(A module of its own, not conftest.py: `from conftest import ...` could find tests/conftest.py instead.)"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
GROCERIES = ROOT / "config" / "groceries.yaml"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def cvops(*args: str, env: dict[str, str], cwd: Path, timeout: float = 300) -> Result:
    """`python -m pipeline ARGS` in a child process (real exit codes, real argv handling)."""
    import time

    child_env = {k: v for k, v in os.environ.items()
                 if not k.startswith(("CUSTOM_VISION_", "GITHUB_", "CVOPS_"))}
    child_env.update(env)
    child_env["PYTHONPATH"] = str(ROOT) + os.pathsep + child_env.get("PYTHONPATH", "")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=child_env,
                          capture_output=True, text=True, timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:8]}"


def write_config(path: Path, base: Path = GROCERIES, **changes) -> Path:
    """A copy of `base` with top-level sections updated (dicts merged one level deep; None removes)."""
    data = yaml.safe_load(base.read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        elif isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
