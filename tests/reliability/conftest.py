"""Fixtures of the reliability tests: the end state of clean pipeline runs, to compare faulted runs with."""
from __future__ import annotations

import pytest

from harness.pipeline import cvops
from harness.service import RunningService
from tests.reliability.helpers import PROJECT, PUBLISH, configs, end_state, probes


@pytest.fixture(scope="session")
def clean_end_states(tmp_path_factory, datasets):
    """What `cvops run` of `fruit`, then of `plus`, leaves on a service with no faults: {"fruit": ..., "plus": ...}."""
    tmp = tmp_path_factory.mktemp("clean-runs")
    paths = configs(tmp, datasets)
    states = {}
    with RunningService(tmp / "data") as service:
        env = {**service.environment(), "CVOPS_DATASETS": str(datasets)}
        for name in ("fruit", "plus"):
            result = cvops("run", str(paths[name]), env=env, cwd=tmp)
            assert result.exit_code == 0, result.output
            states[name] = end_state(service, PROJECT, PUBLISH, probes(datasets))
    assert states["fruit"].image_count == 45 and states["plus"].image_count == 51
    return states
