"""keys.json: two keys of each kind, a file of the first version upgraded in place, one key regenerated at a time,
a running service's view of it re-read when it changes, and keys too short for a service refused."""
from __future__ import annotations

import json
import os

import pytest

from cvlocal.settings import load_keys
from cvlocal.store.keyfile import MIN_KEY_LENGTH, KeyFile, LiveKeys, check_key

T1, P1 = "t" * 32, "p" * 32


def test_a_first_version_file_keeps_its_keys_as_key_1_and_gains_key_2(tmp_path):
    (tmp_path / "keys.json").write_text(json.dumps({"trainingKey": T1, "predictionKey": P1, "signingSecret": "ab" * 32}))
    kept, generated = KeyFile(tmp_path).open()
    assert not generated and kept["trainingKey"] == T1 and kept["predictionKey"] == P1
    assert len(kept["trainingKey2"]) == len(kept["predictionKey2"]) == 32 and kept["trainingKey2"] != T1
    assert (tmp_path / "keys.json").stat().st_mode & 0o777 == 0o600
    assert KeyFile(tmp_path).open() == (kept, False)  # stable once complete


def test_regenerating_one_key_changes_that_key_only(tmp_path):
    key_file = KeyFile(tmp_path)
    before, generated = key_file.open()
    assert generated
    key_file.regenerate("prediction", 2)
    after = key_file.read()
    assert after["predictionKey2"] != before["predictionKey2"]
    assert {k: v for k, v in after.items() if k != "predictionKey2"} == {
        k: v for k, v in before.items() if k != "predictionKey2"}
    assert (tmp_path / "keys.json").stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError, match="no training key 3"):
        key_file.regenerate("training", 3)


def test_live_keys_follow_the_file_and_a_flag_stands_for_key_1(tmp_path):
    key_file = KeyFile(tmp_path)
    kept, _ = key_file.open()
    live = LiveKeys(key_file, {"training": T1})
    live.check_every_s = 0.0
    assert live.current().training == (T1, kept["trainingKey2"])
    assert live.current().prediction == (kept["predictionKey"], kept["predictionKey2"])
    key_file.regenerate("training", 2)
    key_file.regenerate("prediction", 1)
    now = key_file.read()
    assert live.current().training == (T1, now["trainingKey2"]) != (T1, kept["trainingKey2"])
    assert live.current().prediction[0] == now["predictionKey"] != kept["predictionKey"]
    (tmp_path / "keys.json").write_text("{half a fi")  # edited by hand, mid-save: the keys last read stay
    os.utime(tmp_path / "keys.json", ns=(1, 1))
    assert live.current().prediction[0] == now["predictionKey"]


def test_too_short_or_unsendable_keys_are_refused_with_the_minimum_and_never_echoed(tmp_path, monkeypatch):
    with pytest.raises(ValueError) as caught:
        check_key("--training-key", "short-key-123")
    assert f"at least {MIN_KEY_LENGTH}" in str(caught.value) and "short-key-123" not in str(caught.value)
    with pytest.raises(ValueError, match="printable ASCII"):
        check_key("--training-key", "a key with spaces" + "x" * 32)
    monkeypatch.setenv("CVLOCAL_PREDICTION_KEY", "short")
    with pytest.raises(ValueError, match="CVLOCAL_PREDICTION_KEY is 5 characters"):
        load_keys(tmp_path, T1, None)
    monkeypatch.delenv("CVLOCAL_PREDICTION_KEY")
    with pytest.raises(ValueError, match="must differ"):
        load_keys(tmp_path, T1, T1)
    loaded = load_keys(tmp_path, T1, P1)
    assert loaded.sources == {"training": "flag", "prediction": "flag"}
    assert loaded.live.current().training[0] == T1 and loaded.live.current().prediction[0] == P1
