"""`make demo`'s steps end to end: the Grocery Checkout on the committed photos (service, pipeline, client,
report); twice in a row."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_demo(work: Path) -> subprocess.CompletedProcess:
    # CVOPS_DATASETS is left out: the demo runs on datasets/ as a fresh clone would, wherever `make` points it.
    env = {k: v for k, v in os.environ.items() if k != "CVOPS_DATASETS"}
    return subprocess.run([sys.executable, "-m", "demo"], cwd=ROOT, env={**env, "CVOPS_DEMO_DIR": str(work)},
                          capture_output=True, text=True, timeout=600)


def test_demo_publishes_the_grocery_checkout_classifies_the_new_photos_and_runs_again(tmp_path):
    for attempt in (1, 2):
        result = run_demo(tmp_path)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        report = json.loads((tmp_path / "out" / "report.json").read_text())
        assert report["outcome"] == "published" and report["published_name"] == "groceries"
        assert report["project"] == "Grocery Checkout" and report["dataset"]["images"] == 45
        assert sorted(report["performance"]["per_tag"]) == ["apple", "banana", "orange"]
        # what the portal's Performance page shows, per tag
        assert re.search(r"banana\s+\d+\.\d%\s+\d+\.\d%\s+\d+\.\d%", result.stdout)
        # the quick test of three new photos, then the client's six: each the fruit it is
        assert len(re.findall(r"smoke test \w+\.jpg: top tag .(\w+).", result.stdout + result.stderr)) == 3
        answers = re.findall(r"^  (apple|banana|orange)\d\.jpg: (\w+) \(", result.stdout, re.MULTILINE)
        assert len(answers) == 6 and all(truth == top for truth, top in answers), answers
        assert re.search(r"/customvision/v3\.0/Prediction/[0-9a-f-]{36}/classify/iterations/groceries/url",
                         result.stdout)
        # the service is gone afterwards, and its keys never reached the output
        assert "Stopping the service" in result.stdout
        keys = [v for k, v in report.items() if "key" in k.lower()]
        assert not keys
