"""`make bench` (`python -m bench`): run every benchmark and rewrite docs/benchmarks.md.

    python -m bench                      # all of them, writes docs/benchmarks.md and bench/results/latest.json
    python -m bench --only prediction,training
    python -m bench --quick              # smaller sets, for checking the scripts (not for figures)
    python -m bench --label before       # also keep the results as bench/results/before.json

Each benchmark is also a script of its own: `python -m bench.prediction` prints its section. Figures from an
earlier run kept as bench/results/before.json appear beside this run's in the summary ("before").
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import (accuracy, cluster, detection, exports, int8, limits, memory, pipeline_run, portal,
                   prediction, suspects, training)
from bench.common import ROOT, Section, machine, markdown_table, met_word
from bench.report import section_markdown

BENCHMARKS = {"prediction": prediction, "training": training, "pipeline": pipeline_run, "accuracy": accuracy,
              "int8": int8, "memory": memory, "portal": portal, "limits": limits, "cluster": cluster,
              "suspects": suspects, "exports": exports, "detection": detection}
RESULTS = ROOT / "bench" / "results"
NOTES = ROOT / "bench" / "notes.md"


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "cvlocal", "bench"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# Figures renamed since an earlier run: this run's name -> the name the same figure had then.
RENAMED = {
    "prediction throughput, stored route / limit (storing not in the limit)":
        "prediction throughput / limit, at the service's best concurrency",
    "prediction p99 / p50, stored route (worst concurrency)": "prediction p99 / p50 (worst concurrency)",
}


def render(run: dict, before: dict | None) -> str:
    m = run["machine"]
    lines = ["# Benchmarks", "",
             "How close the self-hosted service (`cvlocal`) and the pipeline (`cvops`) come to what this machine "
             "can do. Written by `make bench` (`.venv/bin/python -m bench`); every figure below comes from one run "
             "of it, and every limit it is compared with was measured in that same run, because absolute times "
             "drift on shared machines. Each benchmark is a script in `bench/` that runs on its own too "
             "(`python -m bench.prediction`, `bench.training`, `bench.pipeline_run`, `bench.accuracy`, "
             "`bench.memory`, `bench.portal`, `bench.limits`, `bench.cluster`, `bench.suspects`, `bench.exports`, `bench.detection`).", "",
             "## This run", ""]
    lines += markdown_table(["", ""], [
        ["command", f"`{run['command']}`"],
        ["date (UTC)", run["date"]],
        ["commit", run["commit"]],
        ["took", f"{run['seconds'] / 60:.1f} min"],
        ["machine", f"{m['cores']} cores, {m['cpu']}, {m['memory']} memory, {m['os']}"],
        ["software", f"Python {m['python']}, onnxruntime {m['onnxruntime']}, numpy {m['numpy']}, "
                     f"Pillow {m['pillow']}"],
        ["load average at start / end", f"{_load(m['load_average'])} / {_load(run['load_average_end'])} "
                                        "(other work on the machine shares the cores)"],
    ])
    lines += ["", "## Targets", ""]
    rows = []
    before_checks = {}
    if before:
        for s in before["sections"]:
            for c in s["checks"]:
                before_checks[(s["key"], c["name"])] = c
    for s in run["sections"]:
        for c in s["checks"]:
            b = before_checks.get((s["key"], c["name"])) or before_checks.get((s["key"], RENAMED.get(c["name"])))
            rows.append([s["key"], c["name"], b["value"] + f" ({met_word(b['met'])})" if b else "-", c["value"],
                         c["target"], met_word(c["met"])])
    header = ["benchmark", "figure", f"before ({before['commit']}, {before['date'][:10]})" if before else "before",
              "now", "target", "now met"]
    lines += markdown_table(header, rows) + [""]
    if NOTES.exists():
        lines += [NOTES.read_text().strip(), ""]
    for s in run["sections"]:
        lines += section_markdown(Section(**{k: v for k, v in s.items() if k not in ("tables", "checks")},
                                          tables=[(t["caption"], t["header"], t["rows"]) for t in s["tables"]],
                                          checks=[_check(c) for c in s["checks"]]))
        lines += [f"_({s['seconds']:.0f} s)_", ""]
    if before:
        lines += [f"## Before ({before['commit']}, {before['date']})", "",
                  "The same benchmarks on the code before the changes above, for comparison.", ""]
        for s in before["sections"]:
            lines += section_markdown(Section(**{k: v for k, v in s.items() if k not in ("tables", "checks")},
                                              tables=[(t["caption"], t["header"], t["rows"]) for t in s["tables"]],
                                              checks=[_check(c) for c in s["checks"]]), level="###")
    return "\n".join(lines).rstrip() + "\n"


def _check(c: dict):
    from bench.common import Check

    return Check(c["name"], c["value"], c["target"], c["met"])


def _load(values) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


def _plain(value):
    """numpy's scalars (a check's `met` may be numpy.bool_) as the Python values JSON knows."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run the benchmarks; write "
                                     "docs/benchmarks.md.")
    parser.add_argument("--only", help="comma-separated: " + ",".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="smaller sets; checks the scripts, not the figures")
    parser.add_argument("--label", help="also keep the results as bench/results/LABEL.json")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--before", type=Path, default=RESULTS / "before.json",
                        help="earlier results shown as 'before' (default bench/results/before.json)")
    parser.add_argument("--render", type=Path, metavar="RESULTS_JSON",
                        help="run nothing: rewrite the Markdown from kept results (e.g. bench/results/after.json)")
    args = parser.parse_args(argv)
    if args.render:
        before = json.loads(args.before.read_text()) if args.before.exists() else None
        args.out.write_text(render(json.loads(args.render.read_text()), before))
        return 0
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    started = time.perf_counter()
    run = {"command": "make bench" if not argv and len(sys.argv) == 1 else
           "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:]),
           "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"), "commit": git_commit(),
           "machine": machine(), "quick": args.quick, "sections": []}
    for name in names:
        t0 = time.perf_counter()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        section = BENCHMARKS[name].run(quick=args.quick)
        section.seconds = time.perf_counter() - t0
        print(f"bench: {name} done in {section.seconds:.0f} s", file=sys.stderr, flush=True)
        for c in section.checks:
            print(f"  {c.name}: {c.value} (target {c.target}: {met_word(c.met).strip('*')})", file=sys.stderr)
        run["sections"].append(section.to_dict())
    run["seconds"] = time.perf_counter() - started
    run["load_average_end"] = list(__import__("os").getloadavg())

    RESULTS.mkdir(parents=True, exist_ok=True)
    kept = json.dumps(run, indent=1, default=_plain) + "\n"
    (RESULTS / "latest.json").write_text(kept)
    if args.label:
        (RESULTS / f"{args.label}.json").write_text(kept)
    before = json.loads(args.before.read_text()) if args.before.exists() and args.label != "before" else None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(run, before))
    print(f"bench: wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} "
          f"in {run['seconds'] / 60:.1f} min", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
