"""The load test, short: 8 clients for 10 s (`python -m bench.soak` runs 32 for 60 s; see
docs/reliability.md). No 5xx, nothing lost or stored twice, every training Completed, the database intact."""
from __future__ import annotations

import pytest

from bench.soak import markdown, run_soak

pytestmark = [pytest.mark.slow]


def test_eight_clients_for_ten_seconds(tmp_path):
    result = run_soak(seconds=10, clients=8, projects=2, data_dir=tmp_path)
    print("\n" + markdown(result))
    assert result.ok, "\n".join(result.failures)
    assert result.requests > 100 and result.trainings >= 1 and result.publishes >= 1
    assert result.images_duplicate > 0  # uploads again came back OKDuplicate
