"""`make demo`'s steps end to end: service, pipeline, classify, report; twice in a row."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_demo(work: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CVOPS_DEMO_DIR": str(work)}
    return subprocess.run([sys.executable, "-m", "demo"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_demo_publishes_classifies_and_runs_again(tmp_path):
    for attempt in (1, 2):
        result = run_demo(tmp_path)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        report = json.loads((tmp_path / "report.json").read_text())
        assert report["outcome"] == "published" and report["published_name"] == "digits"
        # held-out digits: most come out as the digit they are
        answers = re.findall(r"held-out/(\w+)-\d\.png: (\w+) \(", result.stdout)
        assert len(answers) == 5
        assert sum(truth == top for truth, top in answers) >= 4, answers
        assert re.search(r"/customvision/v3\.0/Prediction/[0-9a-f-]{36}/classify/iterations/digits/url",
                         result.stdout)
        # the service is gone afterwards, and its keys never reached the output
        assert "Stopping the service" in result.stdout
        keys = [v for k, v in report.items() if "key" in k.lower()]
        assert not keys
