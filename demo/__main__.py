"""`make demo`: the Custom Vision labs' "Grocery Checkout" end to end, offline, on the photos in datasets/.

Starts the self-hosted service on a free loopback port with a throw-away data directory, runs
`cvops run config/groceries.yaml` on the fruit photos committed in datasets/fruit (project "Grocery Checkout",
domain Food, Multiclass, tags apple / banana / orange: upload, quick training, the precision / recall / AP
gates, a quick test of three new photos, publish as "groceries"), prints what the portal's Performance page
shows, classifies the new photos in datasets/fruit-extra from a client (the official SDK's prediction
client, as the lab's own test program does), prints the prediction URL, and stops the service, also on Ctrl-C
or failure. The service runs as a separate process: the pipeline and the client only ever talk to it over HTTP.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from harness.pipeline import GROCERIES, ROOT, cvops
from harness.service import RunningService

WORK = Path(os.environ.get("CVOPS_DEMO_DIR", ROOT / ".demo")).resolve()
DATASETS = ROOT / "datasets"  # the committed photos: a fresh clone needs nothing else
NEW_PHOTOS = DATASETS / "fruit-extra"


def say(text: str) -> None:
    print(f"\n\033[1m==> {text}\033[0m" if sys.stdout.isatty() else f"\n==> {text}", flush=True)


def run_cvops(*args: str, env: dict[str, str]) -> int:
    """`cvops ARGS` as a user runs it in this shell (from WORK, where the config's report lands): its output
    straight to the terminal."""
    return cvops(*args, env=env, cwd=WORK, timeout=None, inherit=True, capture=False).exit_code


def performance(report: dict) -> None:
    """The iteration's precision / recall / AP, overall and per tag, as the portal's Performance page lists them."""
    perf = report.get("performance") or {}
    rows = [("overall", perf.get("overall", {}))] + list((perf.get("per_tag") or {}).items())
    print(f"  {'tag':10s} {'precision':>9s} {'recall':>7s} {'AP':>7s}")
    for tag, m in rows:
        print(f"  {tag:10s} {m.get('precision', 0):9.1%} {m.get('recall', 0):7.1%} "
              f"{m.get('average_precision', 0):7.1%}")


def classify_new_photos(service: RunningService, project_id: str, published: str) -> int:
    """The lab's client: each new photo to the published iteration through the official SDK. -> wrong answers."""
    from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
    from msrest.authentication import ApiKeyCredentials

    client = CustomVisionPredictionClient(service.endpoint, ApiKeyCredentials(
        in_headers={"Prediction-key": service.prediction_key}))
    wrong = 0
    for photo in sorted(NEW_PHOTOS.glob("*/*.jpg")):
        with open(photo, "rb") as f:
            result = client.classify_image(project_id, published, f.read())
        top = result.predictions[0]
        wrong += top.tag_name != photo.parent.name
        print(f"  {photo.name}: {top.tag_name} ({top.probability:.1%})")
    return wrong


def prediction_url(endpoint: str, project_id: str, name: str) -> None:
    base = f"{endpoint}customvision/v3.0/Prediction/{project_id}/classify/iterations/{name}"
    say("Prediction URL (as the portal's \"Prediction URL\" dialog shows it)")
    print(f"If you have an image URL:\n  {base}/url\n  Set Prediction-Key header to : <prediction key>\n"
          f"  Set Content-Type header to : application/json\n  Set Body to : {{\"Url\": \"https://example.com/image.png\"}}")
    print(f"If you have an image file:\n  {base}/image\n  Set Prediction-Key header to : <prediction key>\n"
          f"  Set Content-Type header to : application/octet-stream\n  Set Body to : <image file>")


def main() -> int:
    started = time.monotonic()
    WORK.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(WORK / "out", ignore_errors=True)
    data_dir = WORK / "service-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    service = RunningService(data_dir, log_path=WORK / "service.log")
    endpoint = service.endpoint + "/"
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        say(f"Starting the self-hosted Custom Vision service on {endpoint}")
        service.start()
        env = {**service.environment(), "CVOPS_DATASETS": str(DATASETS)}
        say("cvops run config/groceries.yaml  (Grocery Checkout: upload, quick training, gates, quick test, "
            "publish)")
        code = run_cvops("run", str(GROCERIES), env=env)
        report_path = WORK / "out" / "report.json"
        if code != 0:
            print(f"cvops run exited with {code}; the report is in {report_path.with_suffix('.md')}",
                  file=sys.stderr)
            return code
        report = json.loads(report_path.read_text())
        perf = report.get("performance") or {}
        say(f"Performance of {perf.get('iteration', 'the new iteration')} (cross-validated, at threshold "
            f"{perf.get('threshold', 0.5):.0%})")
        performance(report)
        project_id, name = report["project_id"], report["published_name"]
        say(f"A client classifies the new photos in datasets/fruit-extra with the published \"{name}\"")
        wrong = classify_new_photos(service, project_id, name)
        prediction_url(endpoint, project_id, name)
        if wrong:
            print(f"{wrong} new photo(s) classified wrongly", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    finally:
        say("Stopping the service")
        service.stop()
        signal.signal(signal.SIGTERM, previous)
    say(f"Done in {time.monotonic() - started:.0f} s. The report: {WORK / 'out' / 'report.md'}. Try it yourself: "
        "`make serve`, then see docs/self-hosted.md.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
