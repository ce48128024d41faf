"""Benchmark 3, pipeline: `cvops run` uploading 1,000 images, then the same run again with nothing changed.

A fresh service; a folder-per-tag dataset of 1,000 images made from the fruit photos (random crops and flips,
as in the training benchmark, other seeds); a config with no gates and no smoke test. The first `python -m
pipeline run` creates the project and tags, uploads every image (the SDK's base64 JSON batches of 64) and
trains and publishes; upload throughput is the report's upload step (images and image bytes over its
seconds). The second run finds every image's hash already in the project: it must upload nothing and finish,
process start to exit, in under 3 s.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import yaml

from bench.common import ROOT, Check, Section, derived_set, running_service
from harness.pipeline import cvops as run_cvops
from harness.pipeline import service_section

IMAGES = 1000
RERUN_S = 3.0


def config_yaml(dataset: Path, report: Path) -> str:
    """No gates, no smoke test: the run uploads, trains and publishes."""
    return yaml.safe_dump({
        "project": {"name": "Bench Pipeline", "domain": "Food", "classification_type": "Multiclass"},
        "service": service_section(),
        "dataset": {"path": str(dataset), "layout": "folder-per-tag"},
        "training": {"timeout_minutes": 15},
        "publish": {"name": "bench"},
        "report": {"json": str(report)}}, sort_keys=False)


def cvops(config: Path, env: dict[str, str]) -> tuple[float, dict, str]:
    started = time.perf_counter()
    done = run_cvops("run", str(config), "--quiet", env=env, cwd=ROOT, timeout=900, inherit=True)
    seconds = time.perf_counter() - started
    if done.exit_code != 0:
        raise RuntimeError(f"cvops run exited {done.exit_code}:\n{done.stdout}\n{done.stderr}")
    report = json.loads(Path(env["BENCH_REPORT"]).read_text())
    return seconds, report, done.output


def run(quick: bool = False) -> Section:
    section = Section("pipeline", "Pipeline: upload throughput and a no-op rerun", __doc__.split("\n\n")[1])
    count = 200 if quick else IMAGES
    files = derived_set(count, seed=count + 1)
    dataset = files[0][0].parent.parent
    with running_service("pipeline", warm=False) as bench:
        config = bench.workdir / "bench.yaml"
        report_path = bench.workdir / "report.json"
        config.write_text(config_yaml(dataset, report_path))
        env = {**bench.service.environment(), "BENCH_REPORT": str(report_path)}
        first_s, first, _ = cvops(config, env)
        reruns = []
        for _ in range(3):
            reruns.append(cvops(config, env))
    up = first["uploads"]
    upload_s = first["timings"]["upload"]
    megabytes = up["bytes"] / 1e6
    rerun_s = sorted(s for s, _, _ in reruns)[len(reruns) // 2]
    rerun = reruns[0][1]
    rows = [["first run", first["outcome"], up["uploaded"], up["batches"], f"{megabytes:.1f}", upload_s,
             up["uploaded"] / upload_s, megabytes / upload_s, first["timings"].get("train", float("nan")),
             first_s]]
    for s, report, _ in reruns:
        rows.append(["rerun, nothing changed", report["outcome"], report["uploads"].get("uploaded", 0),
                     report["uploads"].get("batches", 0), "0", report["timings"].get("upload", 0.0), "-", "-",
                     report["timings"].get("train", float("nan")), s])
    section.table(f"`cvops run` on {count:,} images (seconds are wall time; the run's own step timings)",
                  ["run", "outcome", "uploaded", "batches", "MB", "upload s", "images/s", "MB/s", "train s",
                   "whole run s"], rows)
    steps = {k: v for k, v in rerun["timings"].items()}
    section.table("The rerun's steps (seconds, from its report)", [*steps.keys()],
                  [[float(v) for v in steps.values()]])
    section.checks.append(Check("pipeline upload throughput", f"{up['uploaded'] / upload_s:.1f} images/s, "
                                f"{megabytes / upload_s:.1f} MB/s", "reported (no target)", None))
    uploaded_again = sum(r["uploads"].get("uploaded", 0) for _, r, _ in reruns)
    section.checks.append(Check(f"no-op rerun on {count:,} unchanged images (median of {len(reruns)})",
                                f"{rerun_s:.2f} s, {uploaded_again} uploaded",
                                f"nothing uploaded, < {RERUN_S:g} s",
                                uploaded_again == 0 and rerun_s < RERUN_S))
    return section


if __name__ == "__main__":
    from bench.report import print_section

    print_section(run(quick="--quick" in sys.argv))
