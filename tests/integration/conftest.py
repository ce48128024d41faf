"""Fixtures the integration modules share: the trained projects the export tests compare exports on (one of
each for the session, so training and the service's answers are paid once)."""
from __future__ import annotations

import pytest

from harness.rest import Rest

from .exported_projects import KSHOT, Trained, kshot, photos


@pytest.fixture(scope="session")
def export_rest(cvlocal_service):
    return Rest(cvlocal_service)


@pytest.fixture(scope="session")
def fruit(export_rest, datasets):
    return Trained(export_rest, "fruit", photos(datasets / "fruit"))


@pytest.fixture(scope="session")
def grocery(export_rest, datasets):
    return Trained(export_rest, "grocery", kshot(photos(datasets / "grocery-store" / "train"), KSHOT))
