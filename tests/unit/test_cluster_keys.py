"""Cluster mode's keys: key 1 from the flag or CVLOCAL_<KIND>_KEY, key 2 from CVLOCAL_<KIND>_KEY2, the signing
secret from CVLOCAL_SIGNING_SECRET; nothing generated, nothing kept, and bad values refused saying what to fix."""
from __future__ import annotations

import pytest

from cvlocal.settings import cluster_keys

T1, T2, P1, P2 = "t" * 32, "u" * 32, "p" * 32, "q" * 32
SECRET = "ab" * 32


@pytest.fixture
def env(monkeypatch):
    for name in ("CVLOCAL_TRAINING_KEY", "CVLOCAL_PREDICTION_KEY", "CVLOCAL_TRAINING_KEY2", "CVLOCAL_PREDICTION_KEY2"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CVLOCAL_SIGNING_SECRET", SECRET)
    return monkeypatch


def test_key_1_from_flag_or_environment_and_key_2_from_the_environment(env):
    env.setenv("CVLOCAL_PREDICTION_KEY", P1)
    env.setenv("CVLOCAL_TRAINING_KEY2", T2)
    loaded = cluster_keys(T1, None)
    assert loaded.live.current().training == (T1, T2) and loaded.live.current().prediction == (P1,)
    assert (loaded.training_key, loaded.prediction_key, loaded.sources) == \
        (T1, P1, {"training": "flag", "prediction": "env"})
    assert loaded.signing_secret == bytes.fromhex(SECRET) and loaded.key_file is None


@pytest.mark.parametrize(("given", "says"), [
    ({"CVLOCAL_SIGNING_SECRET": ""}, "give --prediction-key or $CVLOCAL_PREDICTION_KEY, $CVLOCAL_SIGNING_SECRET"),
    ({"CVLOCAL_PREDICTION_KEY": P1, "CVLOCAL_SIGNING_SECRET": "abcd"}, "at least 32 hex digits"),
    ({"CVLOCAL_PREDICTION_KEY": P1, "CVLOCAL_PREDICTION_KEY2": "short"}, "CVLOCAL_PREDICTION_KEY2 is 5 characters"),
    ({"CVLOCAL_PREDICTION_KEY": P1, "CVLOCAL_PREDICTION_KEY2": T1}, "A training key and a prediction key must differ"),
])
def test_what_a_replica_cannot_serve_with_is_refused(env, given, says):
    for name, value in given.items():
        env.setenv(name, value)
    with pytest.raises(ValueError, match=says.replace("$", r"\$")) as refused:
        cluster_keys(T1, None)
    assert T1 not in str(refused.value) and P1 not in str(refused.value)
