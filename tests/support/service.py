"""Start the real self-hosted service (`python -m cvlocal serve`) on a free loopback port for tests."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

TRAINING_ROOT = "/customvision/v3.4-preview/training"
PREDICTION_ROOT = "/customvision/v3.1/prediction"
PREDICTION_RESOURCE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/cvlocal"
    "/providers/Microsoft.CognitiveServices/accounts/cvlocal-prediction"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningService:
    """A `cvlocal serve` child process; restartable on the same data directory and port."""

    data_dir: Path
    training_key: str = "test-training-key-0123456789"
    prediction_key: str = "test-prediction-key-0123456789"
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def prediction_resource_id(self) -> str:
        return PREDICTION_RESOURCE_ID

    def environment(self) -> dict[str, str]:
        """The CUSTOM_VISION_* variables the pipeline's configs read."""
        return {
            "CUSTOM_VISION_TRAINING_ENDPOINT": self.endpoint,
            "CUSTOM_VISION_TRAINING_KEY": self.training_key,
            "CUSTOM_VISION_PREDICTION_ENDPOINT": self.endpoint,
            "CUSTOM_VISION_PREDICTION_KEY": self.prediction_key,
            "CUSTOM_VISION_PREDICTION_RESOURCE_ID": self.prediction_resource_id,
        }

    def start(self, timeout: float = 60.0) -> "RunningService":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-service.log"
        log = open(self.log_path, "ab")
        env = {**os.environ, **self.env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cvlocal", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--data-dir", str(self.data_dir), "--training-key", self.training_key,
             "--prediction-key", self.prediction_key, *self.extra_args],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"cvlocal exited with {self.process.returncode}:\n{self.log()}")
            try:
                req = urllib.request.Request(self.endpoint + TRAINING_ROOT + "/domains",
                                             headers={"Training-Key": self.training_key})
                with urllib.request.urlopen(req, timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"cvlocal did not answer within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def kill(self) -> None:
        """kill -9: no chance to clean up, as in a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> "RunningService":
        self.stop()
        return self.start()

    def __enter__(self) -> "RunningService":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
