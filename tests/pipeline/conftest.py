"""Fixtures of the pipeline's tests (helpers are in cvops_helpers.py)."""
from __future__ import annotations

import pytest


@pytest.fixture
def service_env(cvlocal_service, datasets) -> dict[str, str]:
    """The CUSTOM_VISION_* variables of the session's service, and where the datasets are."""
    return {**cvlocal_service.environment(), "CVOPS_DATASETS": str(datasets)}
