"""The tier table, the token bucket on a clock of the test's own, which of Azure's rates a request counts
against, whose bucket it is, and Azure's words for a refusal."""
from __future__ import annotations

import asyncio
import json

import pytest

from cvlocal.gateway.keys import KEY_HEADERS
from cvlocal.tiers import TIERS, RateLimiter, tier_named
from cvlocal.tiers.limiter import (OTHER, PREDICT, PREDICT_NO_STORE, TRAIN, TokenBucket, call_kind,
                                   throttled_message)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _scope(path: str, method: str = "GET", headers=((b"training-key", b"k1"),)) -> dict:
    return {"type": "http", "method": method, "path": path, "headers": list(headers)}


def test_the_table_holds_azures_numbers():
    f0, s0, unlimited = TIERS["F0"], TIERS["S0"], TIERS["unlimited"]
    assert (f0.projects, f0.images_per_project, f0.tags_per_project, f0.iterations_per_project) == (2, 5000, 50, 20)
    assert (s0.projects, s0.images_per_project, s0.tags_per_project, s0.iterations_per_project) == \
        (100, 100_000, 500, 20)
    assert (f0.train_per_s, f0.other_per_s, s0.train_per_s, s0.other_per_s) == (2, 10, 10, 10)
    assert (f0.predict_per_s, f0.predict_no_store_per_s, s0.predict_per_s, s0.predict_no_store_per_s) == \
        (2, 2, 10, 20)
    assert not unlimited.limits_rates and unlimited.projects is None and unlimited.images_per_project is None
    assert tier_named("s0") is s0 and tier_named(" Unlimited ") is unlimited
    with pytest.raises(ValueError, match="use F0, S0, unlimited"):
        tier_named("S1")


def test_a_bucket_lets_a_seconds_worth_through_then_refills_at_the_rate():
    bucket = TokenBucket(10, now=0.0)
    assert [bucket.take(0.0) for _ in range(10)] == [0.0] * 10
    assert bucket.take(0.0) == pytest.approx(0.1)      # the 11th: one token is a tenth of a second away
    assert bucket.take(0.05) == pytest.approx(0.05)    # refused calls take nothing
    assert bucket.take(0.1) == 0.0
    assert bucket.take(10.0) == 0.0 and bucket.tokens == pytest.approx(9.0)  # never more than a second's worth
    slow = TokenBucket(2, now=0.0)
    assert [slow.take(0.0) == 0.0 for _ in range(3)] == [True, True, False]
    assert slow.take(0.25) == pytest.approx(0.25) and slow.take(0.5) == 0.0


def test_each_request_counts_against_one_of_azures_four_rates():
    assert call_kind("training", "POST", "/training/projects/p1/train") == TRAIN
    assert call_kind("training", "POST", "/training/projects/p1/train/") == TRAIN
    assert call_kind("training", "GET", "/training/projects/p1/train") == OTHER
    assert call_kind("training", "POST", "/training/projects/p1/images/files") == OTHER
    assert call_kind("training", "POST", "/training/projects/p1/quicktest/image") == OTHER
    assert call_kind("prediction", "POST", "/prediction/p1/classify/iterations/a/image") == PREDICT
    assert call_kind("prediction", "POST", "/prediction/p1/classify/iterations/a/url/nostore") == PREDICT_NO_STORE


def test_buckets_are_per_key_and_per_kind_of_call():
    clock = Clock()
    limiter = RateLimiter(TIERS["F0"], KEY_HEADERS, clock=clock)
    train = _scope("/training/projects/p/train", "POST")
    assert [limiter.wait("training", train) == 0.0 for _ in range(3)] == [True, True, False]
    assert limiter.wait("training", _scope("/training/projects")) == 0.0  # other calls have their own bucket
    other_key = _scope("/training/projects/p/train", "POST", [(b"training-key", b"k2")])
    assert limiter.wait("training", other_key) == 0.0
    prediction = _scope("/prediction/p/classify/iterations/a/image", "POST", [(b"prediction-key", b"k3")])
    assert [limiter.wait("prediction", prediction) == 0.0 for _ in range(3)] == [True, True, False]
    clock.now += 0.5
    assert limiter.wait("training", train) == 0.0 and limiter.wait("prediction", prediction) == 0.0


def test_the_bucket_is_the_key_the_key_check_reads():
    """dict(headers) keeps the last of a repeated header: a client cannot pick a fresh bucket with a first one."""
    limiter = RateLimiter(TIERS["F0"], KEY_HEADERS, clock=Clock())
    for n in range(12):
        scope = _scope("/training/domains", headers=[(b"training-key", f"made-up-{n}".encode()),
                                                     (b"training-key", b"real")])
        assert dict(scope["headers"])[b"training-key"] == b"real"
        result = limiter.wait("training", scope)
    assert result > 0  # all twelve counted against "real": the 11th and 12th are refused


def test_unlimited_rates_admit_everything():
    limiter = RateLimiter(TIERS["unlimited"], KEY_HEADERS, clock=Clock())
    assert all(limiter.wait("training", _scope("/training/domains")) == 0.0 for _ in range(1000))


def test_the_refusal_is_azures_shape_and_wording():
    assert throttled_message("F0", "training", "CreateImagesFromData", "3.3", 1) == (
        "Requests to the CreateImagesFromData Operation under Custom_Vision_Training_3.3 have exceeded rate limit "
        "of your current Custom_Vision.Training F0 pricing tier. Please retry after 1 second. To increase your "
        "rate limit switch to a paid tier.")
    assert "Custom_Vision.Prediction S0 pricing tier. Please retry after 2 seconds. Please contact Azure" in \
        throttled_message("S0", "prediction", "ClassifyImage", "3.0", 2)
    sent = []

    async def send(message):
        sent.append(message)

    limiter = RateLimiter(TIERS["S0"], KEY_HEADERS, clock=Clock())
    scope = _scope("/training/projects/p/images", "POST")
    # A loop of its own, not asyncio.run: that resets the thread's event loop, which Pulumi's test mocks
    # (tests/infra) are bound to when the suite runs in another order.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(limiter.refuse(send, "training", scope,
                                               "/customvision/v3.4-preview/training/projects/p/images", 0.3,
                                               "CreateImagesFromData"))
    finally:
        loop.close()
    start, body = sent
    assert start["status"] == 429 and (b"retry-after", b"1") in start["headers"]
    error = json.loads(body["body"])["error"]
    assert error["code"] == "429" and "CreateImagesFromData Operation under Custom_Vision_Training_3.4-preview" \
        in error["message"] and "Please retry after 1 second." in error["message"]


def test_key_1_and_key_2_of_a_resource_share_its_budget():
    """Azure counts a resource's calls over both of its keys: rotating keys buys no extra rate."""
    limiter = RateLimiter(TIERS["F0"], KEY_HEADERS, clock=Clock())

    def train(key):
        scope = _scope("/training/projects/p/train", "POST", [(b"training-key", key)])
        scope["cvlocal.key_owner"] = "training"  # what the gateway's key check records
        return scope
    assert [limiter.wait("training", train(k)) == 0.0 for k in (b"key-1", b"key-2", b"key-1")] == [True, True, False]


def test_the_key_check_names_the_resource_whose_key_it_is():
    from cvlocal.gateway.keys import Keys
    from cvlocal.store.keyfile import FixedKeys, ServiceKeys

    keys = Keys(FixedKeys(ServiceKeys(("t" * 32, "u" * 32), ("p" * 32, "q" * 32))))

    def scope(header, value):
        return {"headers": [(header, value.encode())]}
    assert keys.identify("training", scope(b"training-key", "u" * 32)) == ("training", None)
    assert keys.identify("prediction", scope(b"prediction-key", "q" * 32)) == ("prediction", None)
    assert keys.identify("prediction", scope(b"prediction-key", "t" * 32)) == ("training", None)
    owner, error = keys.identify("training", scope(b"training-key", "p" * 32))
    assert owner is None and error.status == 401
