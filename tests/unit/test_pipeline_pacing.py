"""Pacing: a token bucket spaces calls to the tier's rate; training calls and other calls are counted apart as
Azure counts them; an unknown rate is learned from the first 429; the progress line says how fast it goes.
(Against a throttling HTTP server: tests/integration/test_pipeline_pacing.py.)"""
from __future__ import annotations

import pytest

from pipeline.sdk import notices
from pipeline.sdk.pacing import Pacer, Rates, TokenBucket
from pipeline.sdk.tiers import TIERS, tier


class Clock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def said():
    lines = []
    previous = notices.listen(lines.append)
    yield lines
    notices.listen(previous)


def test_the_bucket_spaces_calls_to_its_rate():
    clock = Clock()
    bucket = TokenBucket(4.0, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(9):
        bucket.take()
    assert clock.now - start == pytest.approx(8 / 4.0)  # the first goes at once, then one every 0.25 s
    clock.now += 10  # idle: at most one call is saved up
    bucket.take()
    waited = bucket.take()
    assert waited == pytest.approx(0.25)


def test_the_window_counts_from_answers_so_slow_answers_cannot_push_a_call_over():
    clock = Clock()
    bucket = TokenBucket(2.0, clock=clock, sleep=clock.sleep)
    bucket.take()
    clock.now += 0.4  # the first call takes 0.4 s to answer: the service may have counted it late
    bucket.answered()
    bucket.take()  # its turn was 0.5 s after the first was sent: no wait left beyond that
    bucket.answered()
    bucket.take()  # the third may go only once the first was answered a whole second ago (not at 101.0)
    assert clock.now == pytest.approx(100.4 + 1.0)


def test_tiers_are_azures_published_limits():
    assert (TIERS["F0"].projects, TIERS["F0"].images_per_project, TIERS["F0"].tags_per_project) == (2, 5000, 50)
    assert (TIERS["S0"].projects, TIERS["S0"].images_per_project, TIERS["S0"].tags_per_project) == (100, 100000, 500)
    assert (TIERS["F0"].train_calls_per_second, TIERS["S0"].train_calls_per_second) == (2, 10)
    assert TIERS["F0"].calls_per_second == TIERS["S0"].calls_per_second == 10
    assert tier("s0") is TIERS["S0"] and tier(None) is None and tier("") is None


def test_training_calls_and_other_calls_are_paced_apart(said):
    clock = Clock()
    pacer = Pacer(Rates(train=2, other=10, prediction=2, source="F0"), clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(11):
        pacer.before("get_tags", "training")
    other_time = clock.now - start
    assert other_time == pytest.approx(10 / 10)
    start = clock.now
    for _ in range(3):
        pacer.before("train_project", "training")  # 2/s, and each one also an "other" call
    assert clock.now - start == pytest.approx(2 / 2, rel=0.01)
    assert said == ["pacing at 10 requests/s and 2 training calls/s (F0)"]
    pacer.before("classify_image", "prediction")
    assert said[-1] == "pacing predictions at 2/s (F0)"


def test_s0_says_one_rate():
    lines = []
    previous = notices.listen(lines.append)
    try:
        Pacer(Rates(10, 10, 10, "S0")).before("get_projects", "training")
    finally:
        notices.listen(previous)
    assert lines == ["pacing at 10 requests/s (S0)"]


def test_an_unknown_rate_is_learned_from_the_first_429(said):
    clock = Clock()
    pacer = Pacer(Rates(), clock=clock, sleep=clock.sleep)
    for _ in range(7):  # the service took 6 in this second, then refused the 7th
        pacer.before("get_tagged_images", "training")
        clock.now += 0.01
    assert clock.slept == [] and said == []
    pacer.throttled("get_tagged_images", "training", retry_after=1.0)
    assert pacer.rate("other") == pytest.approx(6.0)
    assert said == ["pacing at 6 requests/s (learned from HTTP 429)"]
    start = clock.now
    for _ in range(7):
        pacer.before("get_tagged_images", "training")
    assert clock.now - start >= 6 / 6.0  # now spaced
    # Paced, a 429 (another client on the key, a service restart) lowers the rate only if clearly over it.
    pacer.throttled("get_tagged_images", "training", retry_after=1.0)
    assert pacer.rate("other") == pytest.approx(6.0) and len(said) == 1


def test_a_429_on_the_first_call_teaches_nothing(said):
    clock = Clock()
    pacer = Pacer(Rates(), clock=clock, sleep=clock.sleep)
    pacer.before("get_projects", "training")
    pacer.throttled("get_projects", "training", retry_after=2.0)
    assert pacer.rate("other") is None and said == []
