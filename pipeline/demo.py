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
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(os.environ.get("CVOPS_DEMO_DIR", ROOT / ".demo")).resolve()
CONFIG = ROOT / "config" / "demo.yaml"
NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TRAIN_PER_TAG = 120
HELD_OUT_PER_TAG = 2
PREDICTION_RESOURCE_ID = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/cvlocal"
                          "/providers/Microsoft.CognitiveServices/accounts/cvlocal-prediction")


def say(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m" if sys.stdout.isatty() else f"\n==> {text}", flush=True)


def write_digits(target: Path) -> list[Path]:
    """scikit-learn's bundled 8x8 digits as 64x64 PNGs, dark ink on white; returns the held-out images."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    shutil.rmtree(target, ignore_errors=True)
    held_out = []
    for label, name in enumerate(NAMES):
        indices = np.flatnonzero(digits.target == label)
        for split, chosen in (("train", indices[:TRAIN_PER_TAG]),
                              ("held-out", indices[TRAIN_PER_TAG:TRAIN_PER_TAG + HELD_OUT_PER_TAG])):
            folder = target / split / name if split == "train" else target / split
            folder.mkdir(parents=True, exist_ok=True)
            for n, index in enumerate(chosen):
                pixels = (255 - digits.images[index] * 255 / 16).astype(np.uint8)
                image = Image.fromarray(pixels).resize((64, 64), Image.Resampling.BICUBIC)
                path = folder / (f"{name}-{index}.png" if split == "train" else f"{name}-{n}.png")
                image.save(path)
                if split == "held-out":
                    held_out.append(path)
    return held_out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """`cvlocal serve` as a child process on loopback, with keys made for this run only."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.port = free_port()
        self.training_key = secrets.token_hex(16)
        self.prediction_key = secrets.token_hex(16)
        self.process: subprocess.Popen | None = None
        self.log_path = data_dir.parent / "service.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def environment(self) -> dict[str, str]:
        return {**os.environ, "CVOPS_DEMO_DIR": str(WORK),
                "CUSTOM_VISION_TRAINING_ENDPOINT": self.endpoint, "CUSTOM_VISION_TRAINING_KEY": self.training_key,
                "CUSTOM_VISION_PREDICTION_ENDPOINT": self.endpoint,
                "CUSTOM_VISION_PREDICTION_KEY": self.prediction_key,
                "CUSTOM_VISION_PREDICTION_RESOURCE_ID": PREDICTION_RESOURCE_ID}

    def start(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True)
        env = {**os.environ, "CVLOCAL_TRAINING_KEY": self.training_key,
               "CVLOCAL_PREDICTION_KEY": self.prediction_key}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cvlocal", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited; see {self.log_path}")
            try:
                request = urllib.request.Request(self.endpoint + "customvision/v3.4-preview/training/domains",
                                                 headers={"Training-Key": self.training_key})
                with urllib.request.urlopen(request, timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"the service did not answer within 60 s; see {self.log_path}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def cvops(*args: str, env: dict[str, str]) -> int:
    return subprocess.call([sys.executable, "-m", "pipeline", *args], env=env, cwd=ROOT)


def summary(service: Service) -> None:
    report = json.loads((WORK / "report.json").read_text())
    markdown = (WORK / "report.md").read_text()
    try:
        from rich.console import Console
        from rich.markdown import Markdown
        Console().print(Markdown(markdown))
    except ImportError:  # rich is a dependency; plain text is the fallback
        print(markdown)
    project_id, name = report.get("project_id"), report.get("published_name")
    base = f"{service.endpoint}customvision/v3.0/Prediction/{project_id}/classify/iterations/{name}"
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
    for stale in ("report.json", "report.md"):
        (WORK / stale).unlink(missing_ok=True)

    service = Service(WORK / "service-data")
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        say(f"Starting the self-hosted Custom Vision service on {service.endpoint}")
        service.start()
        env = service.environment()
        say("cvops run config/demo.yaml  (project, tags, upload, train, gates, smoke test, publish)")
        code = cvops("run", str(CONFIG), env=env)
        if code != 0:
            print(f"cvops run exited with {code}; the report is in {WORK / 'report.md'}", file=sys.stderr)
            return code
        say("cvops classify: held-out digits the model never saw")
        code = cvops("classify", "--config", str(CONFIG), *map(str, held_out[::4]), env=env)
        if code != 0:
            return code
        say("Report")
        summary(service)
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
