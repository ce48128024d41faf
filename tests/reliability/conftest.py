"""Fixtures of the reliability tests: the end state of clean pipeline runs, to compare faulted runs with."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.cvops_helpers import cvops, write_config
from tests.reliability.helpers import end_state, fruit_plus_extra, probes
from tests.support.service import RunningService

PROJECT = "Grocery Checkout"
PUBLISH = "groceries"


def configs(tmp: Path, datasets: Path) -> dict[str, Path]:
    """`fruit`: the shipped groceries config, uploading in batches of 8; `plus`: the same on fruit + fruit-extra."""
    fruit = write_config(tmp / "fruit.yaml", upload={"batch_images": 8})
    plus = write_config(tmp / "plus.yaml", base=fruit,
                        dataset={"path": str(fruit_plus_extra(datasets, tmp / "fruit-plus"))})
    return {"fruit": fruit, "plus": plus}


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
