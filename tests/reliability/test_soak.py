"""The load test, short: 8 clients for 10 s (`python -m bench.soak` runs 32 for 60 s; see
docs/reliability.md), against one service and against three replicas on PostgreSQL + Azurite behind a
balancer. No 5xx, nothing lost or stored twice, every training Completed, the data intact."""
from __future__ import annotations

import pytest

from bench.soak import markdown, run_soak

pytestmark = [pytest.mark.slow]


@pytest.mark.parametrize("replicas", [0, 3], ids=["one service", "three replicas"])
def test_eight_clients_for_twenty_seconds(tmp_path, request, replicas):
    engines = (request.getfixturevalue("postgres"), request.getfixturevalue("azurite")) if replicas else None
    # 20 s: a training under the suite's own load takes up to ~14 s, and a publish needs one to have finished
    result = run_soak(seconds=20, clients=8, projects=2, data_dir=tmp_path, replicas=replicas, engines=engines)
    print("\n" + markdown(result))
    assert result.ok, "\n".join(result.failures)
    assert result.requests > 100 and result.trainings >= 1 and result.publishes >= 1
    assert result.images_duplicate > 0  # uploads again came back OKDuplicate
