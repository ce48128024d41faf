"""Shared fixtures: the real self-hosted service over HTTP, the official SDK clients, the shared datasets."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.service import RunningService  # noqa: E402


def datasets_dir() -> Path | None:
    """The shared labelled datasets (CVOPS_DATASETS, else ../shared/datasets), or None when absent."""
    candidates = [os.environ.get("CVOPS_DATASETS"), str(ROOT.parent / "shared" / "datasets")]
    for c in candidates:
        if c and (Path(c) / "fruit").is_dir():
            return Path(c)
    return None


@pytest.fixture(scope="session")
def datasets() -> Path:
    found = datasets_dir()
    if found is None:
        pytest.skip("shared datasets not found: set CVOPS_DATASETS to the folder holding fruit/, fruit-extra/, trees/")
    return found


@pytest.fixture(scope="session")
def cvlocal_service(tmp_path_factory) -> RunningService:
    """One service for the whole session (tests use unique project names)."""
    with RunningService(tmp_path_factory.mktemp("cvlocal") / "data", extra_args=["--allow-private-urls"]) as service:
        yield service


@pytest.fixture
def fresh_service(tmp_path) -> RunningService:
    """A service of the test's own, on its own data directory (for restarts, kills, faults)."""
    service = RunningService(tmp_path / "data")
    yield service
    service.stop()


@pytest.fixture(scope="session")
def trainer(cvlocal_service):
    from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
    from msrest.authentication import ApiKeyCredentials

    creds = ApiKeyCredentials(in_headers={"Training-key": cvlocal_service.training_key})
    return CustomVisionTrainingClient(cvlocal_service.endpoint, creds)


@pytest.fixture(scope="session")
def predictor(cvlocal_service):
    from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
    from msrest.authentication import ApiKeyCredentials

    creds = ApiKeyCredentials(in_headers={"Prediction-key": cvlocal_service.prediction_key})
    return CustomVisionPredictionClient(cvlocal_service.endpoint, creds)
