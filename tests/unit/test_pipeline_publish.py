"""Publishing and pruning against a recording fake service: the name moves in one call; a service that will not
overwrite gets unpublish-then-publish; retries and other runs' work (already published, already unpublished,
already deleted, already training) are not errors."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from msrest.exceptions import ClientRequestError, HttpOperationError

from pipeline.config import TrainingConfig
from pipeline.steps.publish import prune, publish
from pipeline.steps.train import train


def refused(status: int, code: str | None) -> HttpOperationError:
    exc = HttpOperationError.__new__(HttpOperationError)
    Exception.__init__(exc, f"{status} {code}")
    exc.response = SimpleNamespace(status_code=status, headers={})
    exc.error = SimpleNamespace(code=code, message=code)
    return exc


def iteration(n: int, publish_name: str | None = None, status: str = "Completed"):
    return SimpleNamespace(id=f"id{n}", name=f"Iteration {n}", publish_name=publish_name, status=status,
                           created=None, trained_at=None)


class FakeService:
    """Iterations by id; `publish_name` is the truth; every call is recorded; `fail` injects one answer each."""

    def __init__(self, *iterations, overwrite: bool = True):
        self.iterations = {i.id: i for i in iterations}
        self.overwrite = overwrite
        self.calls: list[tuple] = []
        self.fail: dict[str, list[Exception]] = {}
        self.lost: set[str] = set()  # operations whose work is done but whose answer is lost (once)

    def _injected(self, operation: str) -> None:
        queued = self.fail.get(operation)
        if queued:
            raise queued.pop(0)

    def get_iterations(self, project_id):
        return list(self.iterations.values())

    def get_iteration(self, project_id, iteration_id):
        return self.iterations[iteration_id]

    def publish_iteration(self, project_id, iteration_id, name, resource_id, overwrite=None):
        self.calls.append(("publish", iteration_id, overwrite))
        self._injected("publish")
        holder = next((i for i in self.iterations.values() if i.publish_name == name), None)
        if holder is not None and holder.id != iteration_id:
            if not (overwrite and self.overwrite):
                raise refused(400, "BadRequestInvalidPublishName")
            holder.publish_name = None
        self.iterations[iteration_id].publish_name = name
        if "publish" in self.lost:
            self.lost.discard("publish")
            raise ClientRequestError("Connection aborted: RemoteDisconnected")
        return True

    def unpublish_iteration(self, project_id, iteration_id):
        self.calls.append(("unpublish", iteration_id))
        self._injected("unpublish")
        if not self.iterations[iteration_id].publish_name:
            raise refused(400, "BadRequestIterationNotPublished")
        self.iterations[iteration_id].publish_name = None
        if "unpublish" in self.lost:  # done, answer lost; the retry is told it is not published
            self.lost.discard("unpublish")
            raise refused(400, "BadRequestIterationNotPublished")

    def delete_iteration(self, project_id, iteration_id):
        self.calls.append(("delete", iteration_id))
        self._injected("delete")
        if iteration_id not in self.iterations:
            raise refused(404, "NotFoundIteration")
        del self.iterations[iteration_id]

    def train_project(self, project_id, **kwargs):
        self.calls.append(("train",))
        self._injected("train")
        raise AssertionError("no training expected")

    def holder(self, name="groceries"):
        return next((i.id for i in self.iterations.values() if i.publish_name == name), None)


def test_the_name_moves_in_one_call_with_overwrite():
    service = FakeService(iteration(1, "groceries"), iteration(2))
    publish(service, "p", service.iterations["id2"], "groceries", "rid", service.iterations["id1"])
    assert service.calls == [("publish", "id2", True)] and service.holder() == "id2"


def test_a_service_that_refuses_overwrite_gets_unpublish_then_publish():
    service = FakeService(iteration(1, "groceries"), iteration(2), overwrite=False)
    publish(service, "p", service.iterations["id2"], "groceries", "rid", None)  # the holder is looked up
    assert service.calls == [("publish", "id2", True), ("unpublish", "id1"), ("publish", "id2", None)]
    assert service.holder() == "id2"


def test_when_publishing_fails_after_unpublishing_the_holder_gets_the_name_back():
    service = FakeService(iteration(1, "groceries"), iteration(2), overwrite=False)
    service.fail["publish"] = [refused(400, "BadRequestInvalidPublishName"),
                               refused(400, "BadRequestIterationIsNotTrained")]
    with pytest.raises(HttpOperationError):
        publish(service, "p", service.iterations["id2"], "groceries", "rid", service.iterations["id1"])
    assert service.holder() == "id1"


def test_other_refusals_are_not_taken_for_a_missing_overwrite():
    service = FakeService(iteration(1, "groceries"), iteration(2))
    service.fail["publish"] = [refused(400, "BadRequestInvalidPublishTarget")]
    with pytest.raises(HttpOperationError):
        publish(service, "p", service.iterations["id2"], "groceries", "rid", service.iterations["id1"])
    assert service.holder() == "id1" and ("unpublish", "id1") not in service.calls


def test_a_publish_whose_answer_was_lost_is_done():
    service = FakeService(iteration(1, "groceries"), iteration(2))
    service.lost.add("publish")
    publish(service, "p", service.iterations["id2"], "groceries", "rid", service.iterations["id1"])
    assert service.holder() == "id2"


def test_an_unpublish_done_already_is_not_an_error():
    service = FakeService(iteration(1, "groceries"), iteration(2), overwrite=False)
    service.lost.add("unpublish")
    publish(service, "p", service.iterations["id2"], "groceries", "rid", None)
    assert service.holder() == "id2"


def test_prune_skips_iterations_deleted_or_published_by_someone_else():
    service = FakeService(*(iteration(n) for n in range(1, 6)))
    service.fail["delete"] = [refused(404, "NotFoundIteration"), refused(400, "BadRequestIterationIsPublished")]
    deleted = prune(service, "p", keep=2, protect=set())
    assert deleted == ["Iteration 1", "Iteration 3"]  # 1 was gone already; 2 was published meanwhile
    service.fail["delete"] = [refused(400, "BadRequest")]
    with pytest.raises(HttpOperationError):
        prune(service, "p", keep=1, protect=set())


def test_a_training_in_progress_is_waited_for_and_one_that_just_ended_is_asked_again():
    done = iteration(1)
    service = FakeService(done)
    service.fail["train"] = [refused(400, "BadRequestTrainingAlreadyInProgress"),  # ...which ends right away
                             refused(400, "BadRequestTrainingNotNeeded")]
    result, trained = train(service, "p", TrainingConfig(), sleep=lambda s: None)
    assert (result.id, trained) == ("id1", False) and service.calls == [("train",), ("train",)]
    running = iteration(2, status="Training")
    service = FakeService(done, running)
    service.fail["train"] = [refused(400, "BadRequestTrainingAlreadyInProgress")]

    def finish(seconds):
        running.status = "Completed"
    result, trained = train(service, "p", TrainingConfig(), sleep=finish)
    assert (result.id, trained) == ("id2", True)
