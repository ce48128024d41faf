"""`cvops` as a user runs it: `python -m pipeline ARGS` in a child process (real argv handling, real exit codes),
waited for or watched line by line; and configs made from a shipped one."""
from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.config.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
GROCERIES = ROOT / "config" / "groceries.yaml"
# The caller's own settings, left out of a child's environment unless `inherit`: a developer's shell (or a CI
# job's summary file) must not reach a test's run.
_CALLERS_OWN = ("CUSTOM_VISION_", "GITHUB_", "CVOPS_")


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def child_environment(env: dict[str, str], inherit: bool = False) -> dict[str, str]:
    """This environment plus `env`, with the checkout importable from any working directory."""
    child = dict(os.environ) if inherit else {k: v for k, v in os.environ.items() if not k.startswith(_CALLERS_OWN)}
    child.update(env)
    child["PYTHONPATH"] = str(ROOT) + os.pathsep + child.get("PYTHONPATH", "")
    return child


def cvops(*args: str, env: dict[str, str], cwd: Path, timeout: float | None = 300, inherit: bool = False,
          capture: bool = True) -> Result:
    """Run `cvops ARGS` to the end. `capture=False` lets its output through to this process's terminal."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, env=child_environment(env, inherit),
                          capture_output=capture, text=True, timeout=timeout)
    return Result(proc.returncode, proc.stdout or "", proc.stderr or "", time.monotonic() - start)


class Background:
    """`cvops ARGS` started in the background; its stderr lines are read as they come."""

    def __init__(self, *args: str, env: dict[str, str], cwd: Path):
        self.process = subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=cwd,
                                        env=child_environment(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stdout: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self._stdout.extend(self.process.stdout), daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for_line(self, text: str, timeout: float = 60) -> bool:
        """Read stderr until a line contains `text` (True) or the run ends or the time is up (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.05)
            except queue.Empty:
                continue
            if line is None:
                self._lines.put(None)
                return False
            self.lines.append(line)
            if text in line:
                return True
        return False

    def finish(self, timeout: float = 180) -> int:
        code = self.process.wait(timeout)
        self.wait_for_line("\0never\0", timeout=5)  # drain what is left
        return code

    @property
    def output(self) -> str:
        return "".join(self._stdout) + "".join(self.lines)


def unique(name: str) -> str:
    return f"{name} {uuid.uuid4().hex[:8]}"


def service_section() -> dict[str, str]:
    """A config's `service:` section that reads every setting from its CUSTOM_VISION_* variable."""
    return {setting.field: f"${{{setting.variable}}}" for setting in SETTINGS}


def write_config(path: Path, base: Path = GROCERIES, **changes: Any) -> Path:
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
