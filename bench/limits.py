"""Benchmark 6, limits: `cvops run` on 10,000 generated images against `cvlocal serve --tier S0`, first run and
no-op rerun: requests per image, 429s answered, and wall time against the floor.

A folder-per-tag dataset of generated JPEGs (10,000; `--images N` for fewer) made from the fruit photos
(random crops and flips, as the pipeline benchmark makes them); the pipeline benchmark's config (no gates, no
smoke test: upload, train, publish), with `service.tier` set to the tier served. The same two runs go against a fresh `--tier unlimited` service and a
fresh `--tier S0` service, each through a counting proxy on loopback (harness/counting_proxy.py: every request and its
answer, whatever the pipeline does). The floor of a run is the larger of what S0's request rates allow (for
each of Azure's kinds of call, its calls over its rate; the largest) and the same run against `unlimited`,
measured here; the figure is the S0 run's wall time over its floor. Issue 18's target: within 1.2x of the
floor with no 429 answered, and a rerun that uploads nothing.

    python -m bench.limits --images 300     # alone, on fewer images
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

from bench.common import ROOT, Check, Section, derived_set, running_service
from bench.pipeline_run import config_yaml
from cvlocal.gateway.front import API_PATH
from cvlocal.tiers import TIERS
from cvlocal.tiers.limiter import OTHER, PREDICT, PREDICT_NO_STORE, TRAIN, call_kind
from harness.counting_proxy import CountingProxy
from harness.pipeline import cvops

IMAGES = 10_000
QUICK_IMAGES = 300
TIER = "S0"
WITHIN = 1.2               # S0 wall time over the floor, at most
RUN_CONSTANT = 100         # requests a run may make besides its uploads (project, tags, listing, polls, publish)
RUNS = ("first run", "no-op rerun")


def _rates(tier: str) -> dict[str, float | None]:
    t = TIERS[tier]
    return {TRAIN: t.train_per_s, OTHER: t.other_per_s, PREDICT: t.predict_per_s,
            PREDICT_NO_STORE: t.predict_no_store_per_s}


def rate_floor(calls: Counter, tier: str = TIER) -> float:
    """The least time these calls can take at the tier's rates: each kind of call has its own budget, so the
    kind with the most calls for its rate sets it (requests / allowed rate; a refused call used no budget)."""
    per_kind = Counter()
    for (kind, status), n in calls.items():
        if status != 429:
            per_kind[kind] += n
    return max((n / rate for kind, n in per_kind.items() if (rate := _rates(tier).get(kind))), default=0.0)


def _config(dataset: Path, report: Path, tier: str) -> str:
    config = yaml.safe_load(config_yaml(dataset, report))
    config["training"]["timeout_minutes"] = 120  # 10,000 images train for minutes on a small machine
    if tier != "unlimited":
        # The account's tier, as a team states it (or the stack's trainingSku says it): the pipeline paces
        # from its first call instead of learning the rate from a 429.
        config["service"]["tier"] = tier
    return yaml.safe_dump(config, sort_keys=False)


def _runs(tier: str, dataset: Path) -> list[dict]:
    """The first run and the no-op rerun against a fresh service of this tier, through a counting proxy."""
    out = []
    with running_service(f"limits-{tier}", warm=False, tier=tier) as bench, \
            CountingProxy(bench.service.endpoint) as proxy:
        report_path = bench.workdir / "report.json"
        config = bench.workdir / "limits.yaml"
        config.write_text(_config(dataset, report_path, tier))
        env = {**bench.service.environment(), "CUSTOM_VISION_TRAINING_ENDPOINT": proxy.endpoint,
               "CUSTOM_VISION_PREDICTION_ENDPOINT": proxy.endpoint}
        for name in RUNS:
            proxy.reset()
            started = time.perf_counter()
            done = cvops("run", str(config), "--quiet", env=env, cwd=ROOT, timeout=4 * 3600, inherit=True)
            seconds = time.perf_counter() - started
            if done.exit_code != 0:
                raise RuntimeError(f"cvops run against --tier {tier} exited {done.exit_code}:\n{done.output}")
            report = json.loads(report_path.read_text())
            out.append({"run": name, "seconds": seconds, "calls": by_kind(proxy.reset()), "report": report})
    return out


def by_kind(answered: Counter) -> Counter[tuple[str, int]]:
    """(Azure's kind of call, status) counts from what the proxy saw: (method, path, status)."""
    calls: Counter[tuple[str, int]] = Counter()
    for (method, path, status), n in answered.items():
        match = API_PATH.match(path)
        kind = call_kind(match.group(1).lower(), method, f"/{match.group(1).lower()}{match.group(2) or ''}") \
            if match else "not an API call"
        calls[(kind, status)] += n
    return calls


def _requests(calls: Counter) -> int:
    return sum(calls.values())


def _throttled(calls: Counter) -> int:
    return sum(n for (_, status), n in calls.items() if status == 429)


def run(quick: bool = False, images: int | None = None) -> Section:
    count = images or (QUICK_IMAGES if quick else IMAGES)
    section = Section("limits", f"Limits: the pipeline on {count:,} images against `--tier {TIER}`",
                      __doc__.split("\n\n")[1])
    files = derived_set(count, seed=count + 7)
    dataset = files[0][0].parent.parent
    unlimited = _runs("unlimited", dataset)
    tiered = _runs(TIER, dataset)

    rows, ratios = [], {}
    for base, measured in zip(unlimited, tiered):
        name, calls = measured["run"], measured["calls"]
        by_rate = rate_floor(calls)
        floor = max(by_rate, base["seconds"])
        ratios[name] = measured["seconds"] / floor if floor else float("nan")
        kinds = Counter()
        for (kind, _), n in calls.items():
            kinds[kind] += n
        rows.append([name, _requests(base["calls"]), _requests(calls), kinds[OTHER], kinds[TRAIN],
                     kinds[PREDICT] + kinds[PREDICT_NO_STORE], _throttled(calls),
                     measured["report"]["uploads"].get("uploaded", 0), base["seconds"], by_rate, measured["seconds"],
                     ratios[name]])
    section.table(f"`cvops run` on {count:,} images: requests (through the proxy) and wall seconds",
                  ["run", "requests, unlimited", f"requests, {TIER}", "other training", "TrainProject",
                   "prediction", f"429s at {TIER}", "uploaded", "unlimited s", f"{TIER} rate floor s",
                   f"{TIER} s", f"{TIER} / floor"], rows)

    first, rerun = tiered
    requests_first = _requests(first["calls"])
    section.checks.append(Check(
        f"first run on {count:,} images: requests per image at {TIER}",
        f"{requests_first / count:.4f} ({requests_first:,} requests)",
        f"at most 1/64 + {RUN_CONSTANT} a run ({1 / 64 + RUN_CONSTANT / count:.4f})",
        requests_first <= count / 64 + RUN_CONSTANT))
    throttled = sum(_throttled(r["calls"]) for r in tiered)
    for name, measured in zip(RUNS, tiered):
        uploaded = measured["report"]["uploads"].get("uploaded", 0)
        noop = name != "first run"
        section.checks.append(Check(
            f"{name} at {TIER}: wall time / floor",
            f"{ratios[name]:.2f}, {_throttled(measured['calls'])} x 429" + (f", {uploaded} uploaded" if noop else ""),
            f"<= {WITHIN:g}, no 429" + (", nothing uploaded" if noop else ""),
            ratios[name] <= WITHIN and _throttled(measured["calls"]) == 0 and (uploaded == 0 or not noop)))
    section.checks.append(Check(f"429s answered at {TIER}, both runs", str(throttled), "none", throttled == 0))
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.limits", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, help=f"how many generated images (default {IMAGES:,})")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_IMAGES} images")
    args = parser.parse_args(argv)
    if args.images is not None and args.images < 45:
        parser.error("--images: at least 45 (every fruit photo once: 5 images or more for each tag)")
    from bench.report import print_section

    print_section(run(quick=args.quick, images=args.images))
    return 0


if __name__ == "__main__":
    sys.exit(main())
