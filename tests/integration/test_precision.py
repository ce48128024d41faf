"""`cvlocal serve --precision int8`: new iterations train on, and are served with, the int8 backbone; an iteration
keeps the backbone it was trained on when the service starts again at another precision. On a CPU without VNNI
the option is refused at start, with the reason, before anything is written.

A real service over HTTP, generated photos (two colours), REST as a client sends it.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np

from harness.images import photo
from harness.rest import Rest
from harness.service import PREDICTION_RESOURCE_ID, RunningService
from cvlocal.model.quantised import GRAPH_VERSION, has_vnni


def _publish(rest: Rest, pid: str, iid: str, name: str) -> None:
    r = rest.training("POST", f"/projects/{pid}/iterations/{iid}/publish",
                      params={"publishName": name, "predictionId": PREDICTION_RESOURCE_ID})
    assert r.status_code == 200, r.text


def _probabilities(rest: Rest, pid: str, published: str, images: list[bytes]) -> list[dict[str, float]]:
    out = []
    for image in images:
        r = rest.prediction("POST", f"/{pid}/classify/iterations/{published}/image/nostore", content=image,
                            headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 200, r.text
        out.append({p["tagName"]: p["probability"] for p in r.json()["predictions"]})
    return out


def test_without_vnni_int8_is_refused_at_start_and_nothing_is_written(tmp_path):
    if has_vnni():
        return  # the CPU has it: the next test serves int8
    started = subprocess.run([sys.executable, "-m", "cvlocal", "serve", "--precision", "int8", "--data-dir",
                              str(tmp_path / "data"), "--port", "0"], capture_output=True, text=True, timeout=60)
    assert started.returncode == 2, started.stderr
    assert "--precision int8 needs a CPU with VNNI" in started.stderr and "--precision fp32" in started.stderr
    assert not (tmp_path / "data").exists()


def test_an_int8_iteration_is_served_with_its_graph_at_either_precision(tmp_path):
    if not has_vnni():
        return  # refused on this CPU: the test above
    tests = [photo("red", 100), photo("blue", 100)]
    service = RunningService(tmp_path / "data", extra_args=["--precision", "int8"])
    with service:
        rest = Rest(service)
        pid, _, int8_iteration = rest.trained_project()
        _publish(rest, pid, int8_iteration, "int8")
        int8 = _probabilities(rest, pid, "int8", tests)
    assert [max(p, key=p.get) for p in int8] == ["red", "blue"]
    kept = list((tmp_path / "data" / "backbones").glob("*.onnx"))
    assert [p.name for p in kept] == [f"efficientnet-lite0-{GRAPH_VERSION}.onnx"]  # built once, kept for the next start

    service.extra_args = []  # the default, fp32
    with service:
        rest = Rest(service)
        np.testing.assert_allclose([p["red"] for p in _probabilities(rest, pid, "int8", tests)],
                                   [p["red"] for p in int8], atol=1e-6)  # still the int8 graph's answers
        fp32_iteration = rest.train(pid, forceTrain="true")
        _publish(rest, pid, fp32_iteration, "fp32")
        fp32 = _probabilities(rest, pid, "fp32", tests)
    assert [max(p, key=p.get) for p in fp32] == ["red", "blue"]
    # the same images and head recipe on the float graph's features: close, not the same
    assert max(abs(a["red"] - b["red"]) for a, b in zip(fp32, int8)) > 1e-5
