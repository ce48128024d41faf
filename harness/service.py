"""The self-hosted service (`python -m cvlocal serve`) on a free loopback port and a data directory of its own,
with keys made for this run, and the CUSTOM_VISION_* variables a pipeline needs to reach it."""
from __future__ import annotations

import secrets
import sqlite3
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from harness.process import ChildProcess, free_port
from pipeline.config import settings

TRAINING_ROOT = "/customvision/v3.4-preview/training"
PREDICTION_ROOT = "/customvision/v3.1/prediction"
PREDICTION_RESOURCE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/cvlocal"
    "/providers/Microsoft.CognitiveServices/accounts/cvlocal-prediction"
)


def _key() -> str:
    return secrets.token_hex(16)


class ServiceAddress:
    """What a client needs of a Custom Vision service: `endpoint`, the keys, the prediction resource id."""

    endpoint: str
    training_key: str
    prediction_key: str

    @property
    def prediction_resource_id(self) -> str:
        return PREDICTION_RESOURCE_ID

    def environment(self) -> dict[str, str]:
        """The CUSTOM_VISION_* variables the pipeline's configs read."""
        return settings.environment({"training_endpoint": self.endpoint, "training_key": self.training_key,
                                     "prediction_endpoint": self.endpoint, "prediction_key": self.prediction_key,
                                     "prediction_resource_id": self.prediction_resource_id})


@dataclass
class RunningService(ServiceAddress, ChildProcess):
    """A `cvlocal serve` child process; restartable on the same data directory, port and keys."""

    data_dir: Path
    training_key: str = field(default_factory=_key)
    prediction_key: str = field(default_factory=_key)
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)  # added to the child's environment
    extra_args: list[str] = field(default_factory=list)  # added to `cvlocal serve`
    tier: str = "unlimited"  # `--tier`: F0 and S0 enforce Azure's quotas and request rates; always passed, so a
    # CVLOCAL_TIER in the caller's shell does not reach a test's service
    process: subprocess.Popen | None = None
    log_path: Path | None = None  # default: DATA_DIR-service.log beside the data directory

    name = "cvlocal"

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if self.log_path is None:
            self.log_path = self.data_dir.parent / f"{self.data_dir.name}-service.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        # Keys by flag, as the tests of the service's start-up banner expect of every test service.
        return [sys.executable, "-m", "cvlocal", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--data-dir", str(self.data_dir), "--training-key", self.training_key,
                "--prediction-key", self.prediction_key, "--tier", self.tier,
                *self.extra_args]

    def child_env(self) -> dict[str, str]:
        return self.env

    def start(self, timeout: float = 180.0) -> "RunningService":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return super().start(timeout)

    def is_ready(self) -> bool:
        request = urllib.request.Request(self.endpoint + TRAINING_ROOT + "/domains",
                                         headers={"Training-Key": self.training_key})
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def integrity_check(self) -> str:
        """`PRAGMA integrity_check` of the service's database, opened as a second reader (the service may be
        dead): "ok" when intact."""
        with sqlite3.connect(self.data_dir / "cvlocal.db") as db:
            return db.execute("PRAGMA integrity_check").fetchone()[0]
