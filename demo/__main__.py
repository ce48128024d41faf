"""`make demo`: the seed's whole story offline, on real labelled images that ship inside a dependency.

Starts the self-hosted service on a free loopback port with a throw-away data directory, writes
scikit-learn's handwritten digits out as one folder per tag, runs `cvops run config/demo.yaml` (upload,
train, gate, publish), classifies held-out digits with `cvops classify`, prints the report's summary and
the prediction URL a client would call, and stops the service, also on Ctrl-C or failure.
The service runs as a separate process: the pipeline only ever talks to it over HTTP.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from demo.digits import NAMES, TRAIN_PER_TAG, write_digits
from harness.pipeline import ROOT, cvops
from harness.service import RunningService

WORK = Path(os.environ.get("CVOPS_DEMO_DIR", ROOT / ".demo")).resolve()
CONFIG = ROOT / "config" / "demo.yaml"


def say(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m" if sys.stdout.isatty() else f"\n==> {text}", flush=True)


def run_cvops(*args: str, env: dict[str, str]) -> int:
    """`cvops ARGS` as a user runs it in this shell: its output straight to the terminal."""
    return cvops(*args, env=env, cwd=ROOT, timeout=None, inherit=True, capture=False).exit_code


def summary(endpoint: str) -> None:
    report = json.loads((WORK / "report.json").read_text())
    markdown = (WORK / "report.md").read_text()
    try:
        from rich.console import Console
        from rich.markdown import Markdown
        Console().print(Markdown(markdown))
    except ImportError:  # rich is a dependency; plain text is the fallback
        print(markdown)
    project_id, name = report.get("project_id"), report.get("published_name")
    base = f"{endpoint}customvision/v3.0/Prediction/{project_id}/classify/iterations/{name}"
    say("Prediction URL (as the portal's \"Prediction URL\" dialog shows it)")
    print(f"If you have an image URL:\n  {base}/url\n  Set Prediction-Key header to : <prediction key>\n"
          f"  Set Content-Type header to : application/json\n  Set Body to : {{\"Url\": \"https://example.com/image.png\"}}")
    print(f"If you have an image file:\n  {base}/image\n  Set Prediction-Key header to : <prediction key>\n"
          f"  Set Content-Type header to : application/octet-stream\n  Set Body to : <image file>")


def main() -> int:
    started = time.monotonic()
    say(f"Preparing the demo dataset in {WORK / 'digits'} (scikit-learn's handwritten digits)")
    held_out = write_digits(WORK / "digits")
    print(f"{len(NAMES)} tags x {TRAIN_PER_TAG} training images; {len(held_out)} held-out images to classify")
    for stale in ("report.json", "report.md", "service.log"):
        (WORK / stale).unlink(missing_ok=True)

    data_dir = WORK / "service-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    service = RunningService(data_dir, log_path=WORK / "service.log")
    endpoint = service.endpoint + "/"
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        say(f"Starting the self-hosted Custom Vision service on {endpoint}")
        service.start()
        env = {**service.environment(), "CVOPS_DEMO_DIR": str(WORK)}
        say("cvops run config/demo.yaml  (project, tags, upload, train, gates, smoke test, publish)")
        code = run_cvops("run", str(CONFIG), env=env)
        if code != 0:
            print(f"cvops run exited with {code}; the report is in {WORK / 'report.md'}", file=sys.stderr)
            return code
        say("cvops classify: held-out digits the model never saw")
        code = run_cvops("classify", "--config", str(CONFIG), *map(str, held_out[::4]), env=env)
        if code != 0:
            return code
        say("Report")
        summary(endpoint)
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    finally:
        say("Stopping the service")
        service.stop()
        signal.signal(signal.SIGTERM, previous)
    say(f"Done in {time.monotonic() - started:.0f} s. Try it yourself: `make serve`, then see docs/self-hosted.md.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
