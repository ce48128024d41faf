"""Which iterations are kept, deleted, rolled back to and waited for (the choices, on iteration records)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from pipeline.errors import PipelineError
from pipeline.steps.publish import published_under, rollback_target, to_delete
from pipeline.steps.train import latest_completed, training_needed

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def iteration(n, status="Completed", publish_name=None):
    return SimpleNamespace(id=f"id{n}", name=f"Iteration {n}", status=status, publish_name=publish_name,
                           created=T0 + timedelta(hours=n), trained_at=T0 + timedelta(hours=n, minutes=5))


def test_keep_deletes_oldest_unpublished_only():
    its = [iteration(n) for n in range(1, 8)]
    its[1].publish_name = "groceries"  # Iteration 2 is published
    its[6].status = "Training"
    names = [i.name for i in to_delete(its, keep=3, protect={"id6"})]
    assert names == ["Iteration 1", "Iteration 3", "Iteration 4", "Iteration 5"]
    assert to_delete(its, keep=10, protect=set()) == []
    # the service's limit of 20: one slot is freed before training
    full = [iteration(n) for n in range(1, 21)]
    assert [i.name for i in to_delete(full, keep=19, protect=set())] == ["Iteration 1"]


def test_published_and_latest():
    its = [iteration(3), iteration(1, publish_name="groceries"), iteration(2, status="Failed")]
    assert published_under(its, "groceries").name == "Iteration 1"
    assert published_under(its, "other") is None
    assert latest_completed(its).name == "Iteration 3"


def test_rollback_targets():
    its = [iteration(1), iteration(2, status="Failed"), iteration(3), iteration(4, publish_name="g")]
    assert rollback_target(its, its[3], None).name == "Iteration 3"
    assert rollback_target(its, its[2], None).name == "Iteration 1"  # skips the failed one
    assert rollback_target(its, its[3], "Iteration 1").name == "Iteration 1"
    assert rollback_target(its, its[3], "id3").name == "Iteration 3"
    with pytest.raises(PipelineError, match="oldest completed"):
        rollback_target(its, its[0], None)
    with pytest.raises(PipelineError, match="is Failed"):
        rollback_target(its, its[3], "Iteration 2")
    with pytest.raises(PipelineError, match="no iteration 'Iteration 9'.*Iteration 1, Iteration 2"):
        rollback_target(its, its[3], "Iteration 9")
    with pytest.raises(PipelineError, match="give --to"):
        rollback_target(its, None, None)


def test_training_needed_for_plan():
    image = SimpleNamespace(created=T0 + timedelta(hours=1))
    assert training_needed([], [image], 0) == (True, "no completed iteration yet")
    assert training_needed([iteration(2)], [image], 3) == (True, "3 new image(s)")
    assert training_needed([iteration(2)], [image], 0) == (False, "nothing changed since Iteration 2")
    late = SimpleNamespace(created=T0 + timedelta(hours=3))
    assert training_needed([iteration(2)], [image, late], 0) == (True, "1 image(s) added since Iteration 2")
    assert training_needed([iteration(2), iteration(3, status="Training")], [], 0)[0]
