"""The --faults spec of the self-hosted service: every fault parses, a seed repeats the sequence, bad specs are
refused (the faults themselves, against a running service, are tests/reliability/test_faults.py)."""
from __future__ import annotations

import pytest

from cvlocal.gateway.faults import parse_faults


def test_fault_specs_parse_and_bad_ones_are_refused():
    faults = parse_faults("429=0.2, 503=0.1,drop=0.05,lost=0.05,latency=0.3:0.5,retry-after=0,train-delay=2,seed=4")
    assert (faults.throttle, faults.unavailable, faults.drop, faults.lost) == (0.2, 0.1, 0.05, 0.05)
    assert (faults.latency, faults.latency_s, faults.retry_after_s, faults.train_delay_s) == (0.3, 0.5, 0, 2.0)
    assert faults.active and not parse_faults("train-delay=1").active and not parse_faults(None).active
    rolls = [parse_faults("drop=0.25,lost=0.25,429=0.25,seed=9").roll() for _ in range(2)]
    again = parse_faults("drop=0.25,lost=0.25,429=0.25,seed=9")
    assert rolls[0] == rolls[1] == again.roll()  # a seed repeats the sequence
    for bad in ("429=2", "drop=-0.1", "lost=x", "latency=0.5:inf", "teapot=1", "429=0.6,503=0.6", "seed=x",
                "retry-after=-1", "train-delay=nan"):
        with pytest.raises(ValueError):
            parse_faults(bad)
