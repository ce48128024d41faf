"""Benchmark 9, suspect labels: does `cvops suspects` find labels that are wrong?

Grocery `train/` (2,640 photos, 81 tags), once with 5% of its labels flipped at random (seed 0: 132 photos each
given another tag, drawn uniformly) and once as published. Each is a CSV manifest of the photos where they are
(nothing copied), run through `cvops run` against a fresh self-hosted service (Regular training: held-out
predictions by 5-fold cross-validation), then `cvops suspects --all --json` ranks every photo. The figure: the
share of the flipped photos among the top 5% of the ranking (as many photos as were flipped), for the
self-confidence score cvops ranks by (1 - p(given tag)) and, from the same held-out predictions, for the margin
p(suggested) - p(given) and for chance (5%). Target: >= 0.6. The top suspects of the unflipped set are listed
for a person to look at (bench/notes.md says what they are)."""
from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

import yaml

from bench.common import ROOT, Check, Section, datasets_dir, labelled_files, running_service
from harness.pipeline import cvops, service_section

SEED = 0
FLIPPED_SHARE = 0.05
TARGET = 0.6
LOOKED_AT = 20  # top suspects of the unflipped set listed for a person to judge


def flip(files: list[tuple[Path, str]], share: float, seed: int) -> dict[Path, str]:
    """Photo -> the wrong tag it is given, for `share` of the photos, drawn with `seed`."""
    rng = random.Random(seed)
    tags = sorted({tag for _, tag in files})
    chosen = rng.sample(range(len(files)), round(share * len(files)))
    return {files[i][0]: rng.choice([t for t in tags if t != files[i][1]]) for i in sorted(chosen)}


def manifest(path: Path, files: list[tuple[Path, str]], flipped: dict[Path, str]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "tags"])
        writer.writerows([str(file), flipped.get(file, tag)] for file, tag in files)
    return path


def config(workdir: Path, name: str, dataset: Path) -> Path:
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "project": {"name": f"Bench suspects {name}", "classification_type": "Multiclass"},
        "service": service_section(),
        "dataset": {"path": str(dataset), "layout": "manifest"},
        "training": {"timeout_minutes": 60},
        "publish": {"name": "bench"},
        "report": {"json": str(workdir / f"{name}-report.json")}}, sort_keys=False))
    return path


def ranked(config_path: Path, env: dict[str, str]) -> list[dict]:
    """Run the pipeline, then every held-out photo ranked by `cvops suspects` (most suspect first)."""
    for args in (("run", str(config_path), "--quiet"),
                 ("suspects", str(config_path), "--all", "--json")):
        done = cvops(*args, env=env, cwd=ROOT, timeout=3600, inherit=True)
        if done.exit_code != 0:
            raise RuntimeError(f"cvops {args[0]} exited {done.exit_code}:\n{done.output[-3000:]}")
    return json.loads(done.stdout)["suspects"]


def found(order: list[str], flipped: set[str]) -> float:
    top = order[:len(flipped)]
    return sum(name in flipped for name in top) / len(flipped)


def run(quick: bool = False) -> Section:
    section = Section("suspects", "Suspect labels: flipped labels found in grocery train", __doc__.split("\n\n")[1])
    files = labelled_files("grocery-store/train")
    if quick:
        keep = sorted({tag for _, tag in files})[:12]
        files = [f for f in files if f[1] in keep]
    flipped = flip(files, FLIPPED_SHARE, SEED)
    with running_service("suspects", warm=False) as bench:
        env = bench.service.environment()
        noisy = ranked(config(bench.workdir, "flipped", manifest(bench.workdir / "flipped.csv", files, flipped)), env)
        clean = ranked(config(bench.workdir, "clean", manifest(bench.workdir / "clean.csv", files, {})), env)
    wrong = {str(path) for path in flipped}
    by_confidence = [s["name"] for s in noisy]  # as cvops ranks them
    by_margin = [s["name"] for s in sorted(noisy, key=lambda s: (s["given_probability"] - s["suggested_probability"],
                                                                 s["image_id"]))]
    confidence, margin = found(by_confidence, wrong), found(by_margin, wrong)
    suspected = [s for s in noisy if s["suggested_probability"] > s["given_probability"]]
    rows = [["self-confidence: 1 - p(given) (cvops)", f"{confidence:.3f}"],
            ["margin: p(suggested) - p(given)", f"{margin:.3f}"],
            ["chance", f"{FLIPPED_SHARE:.3f}"]]
    section.table(f"{len(files):,} photos, {len(flipped)} flipped (seed {SEED}): share of the flipped photos in the "
                  f"top {len(flipped)} of each ranking", ["ranking", "flipped found in the top 5%"], rows)
    section.notes.append(f"{len(suspected)} photos are suspects (another tag likelier than the given one), "
                         f"{sum(s['name'] in wrong for s in suspected)} of them flipped.")
    suggested_right = sum(1 for s in noisy[:len(flipped)] if s["name"] in wrong
                          and _true_tag(s["name"]) == s["suggested"])
    section.notes.append(f"Of the flipped photos in the top {len(flipped)}, {suggested_right} have their true tag "
                         "as the suggested one.")
    root = datasets_dir()
    suspected = [s for s in clean if s["suggested_probability"] > s["given_probability"]]
    section.table(f"The unflipped set: {len(suspected)} suspects; the top {LOOKED_AT} (bench/notes.md says which "
                  "are real mistakes)", ["rank", "score", "file", "given", "p(given)", "suggested", "p(suggested)"],
                  [[n + 1, f"{s['score']:.3f}", _short(s["name"], root), s["given"], f"{s['given_probability']:.3f}",
                    s["suggested"], f"{s['suggested_probability']:.3f}"] for n, s in enumerate(suspected[:LOOKED_AT])])
    section.checks.append(Check(f"flipped labels in the top 5% of suspects (grocery train, {FLIPPED_SHARE:.0%} "
                                f"flipped, seed {SEED})", f"{confidence:.3f} (margin {margin:.3f}, "
                                f"chance {FLIPPED_SHARE:.2f})", f">= {TARGET}", confidence >= TARGET))
    return section


def _true_tag(name: str) -> str:
    return Path(name).parent.name


def _short(name: str, root: Path) -> str:
    try:
        return Path(name).relative_to(root).as_posix()
    except ValueError:
        return name


if __name__ == "__main__":
    from bench.report import print_section

    print_section(run(quick="--quick" in sys.argv))
