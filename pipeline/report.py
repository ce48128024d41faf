"""Step 9: the run's report as JSON and Markdown (metrics per tag, gates with margins, uploads, the dataset
version, the held-out confusion and suspect labels, timings), appended to $GITHUB_STEP_SUMMARY and key values to
$GITHUB_OUTPUT when those are set. Never a key. The JSON has the whole confusion matrix; Markdown (and the job
summary) the most confused pairs and the top suspects, readable with 81 tags."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.redact import redact


@dataclass
class RunReport:
    config: str
    project: str
    published_name: str
    started: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    outcome: str = "failed"  # published | up-to-date | held | gate-failed | failed
    exit_code: int = 1
    message: str = ""
    project_id: str | None = None
    project_created: bool = False
    tags_created: list[str] = field(default_factory=list)
    dataset: dict[str, Any] = field(default_factory=dict)
    uploads: dict[str, Any] = field(default_factory=dict)
    sync: dict[str, Any] = field(default_factory=dict)  # dataset.sync: what was retagged/deleted, drift left alone
    training: dict[str, Any] = field(default_factory=dict)
    performance: dict[str, Any] | None = None
    published_performance: dict[str, Any] | None = None
    gates: list[dict[str, Any]] = field(default_factory=list)
    publish: dict[str, Any] = field(default_factory=dict)
    hold: dict[str, Any] | None = None  # the hold (cvops rollback) that kept the run from publishing
    confusion: dict[str, Any] | None = None  # insight/confusion.py: the held-out confusion matrix, pairs worst first
    suspects: dict[str, Any] | None = None  # insight/suspects.py: suspect labels, most suspect first
    warnings: list[str] = field(default_factory=list)
    retries: int = 0
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(redact(json.dumps(asdict(self), default=str)))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def to_markdown(report: RunReport) -> str:
    data = report.to_dict()
    icons = {"published": "✅", "up-to-date": "✅", "held": "⏸️", "gate-failed": "❌"}
    icon = icons.get(report.outcome, "⚠️")
    lines = [f"## cvops: {report.project} → `{report.published_name}`", "",
             f"{icon} **{report.outcome}**" + (f": {data['message']}" if data["message"] else ""), ""]
    if report.training:
        t = report.training
        lines.append(f"- Iteration: **{t.get('iteration', 'n/a')}** "
                     f"({'trained now' if t.get('trained') else 'no training needed'})")
        lines += _dataset_lines(report)
    if report.uploads:
        u = report.uploads
        lines.append(f"- Images: {u.get('uploaded', 0)} uploaded, {u.get('duplicates', 0)} already there "
                     f"(OKDuplicate), {u.get('skipped', 0)} skipped (unchanged), {len(u.get('failures', []))} failed")
    if report.sync:
        lines += _sync_lines(report.sync)
    if report.hold:
        h = report.hold
        lines.append(f"- Hold: `{h['publish_name']}` stays on {h['iteration']} (by {h['by']}, {h['since']}); "
                     "`cvops release` lifts it")
    if report.publish and not report.publish.get("held"):
        p = report.publish
        lines.append(f"- Published: {p.get('iteration', 'nothing')}" +
                     (f" (was {p['previous']})" if p.get("previous") else "") +
                     (f"; deleted {', '.join(p['deleted'])}" if p.get("deleted") else ""))
    if report.performance:
        lines += _performance_lines(report.performance)
    if report.confusion:
        lines += _confusion_lines(report.confusion)
    if report.suspects:
        lines += _suspect_lines(data["suspects"])
    if report.gates:
        lines += ["", "### Gates", "", "| gate | value | needs | margin | result |", "|---|---|---|---|---|"]
        for g in data["gates"]:
            value = "n/a" if g["value"] is None else f"{g['value']:.3f}"
            needs = "" if g["threshold"] is None else ("<= " if g.get("at_most") else "") + f"{g['threshold']:.3f}"
            margin = "" if g["margin"] is None else f"{g['margin']:+.3f}"
            result = "pass" if g["passed"] else "**FAIL**"
            lines.append(f"| {g['gate']} | {value} | {needs} | {margin} | {result}"
                         + (f" ({g['detail']})" if g["detail"] and not g["passed"] else "") + " |")
    failures = report.uploads.get("failures") if report.uploads else None
    if failures:
        lines += ["", "### Images the service refused", ""] + [f"- `{f}`: {s}" for f, s in failures]
    if report.warnings:
        lines += ["", "### Warnings", ""] + [f"- {w}" for w in report.warnings]
    if report.timings:
        lines += ["", "### Timings", "", "| step | seconds |", "|---|---|"]
        lines += [f"| {k} | {v:.1f} |" for k, v in report.timings.items()]
    return redact("\n".join(lines) + "\n")


def _performance_lines(perf: dict[str, Any]) -> list[str]:
    """Per-tag metrics; an object detection iteration's at its overlap threshold, its AP column the mAP overall."""
    detection = perf.get("overlap_threshold") is not None
    at = f"threshold {perf['threshold']:g}" + (f", overlap (IoU) {perf['overlap_threshold']:g}" if detection else "")
    lines = ["", f"### Performance of {perf['iteration']} at {at}", "",
             "| tag | precision | recall | average precision |", "|---|---|---|---|"]
    overall = dict(perf["overall"])
    if detection:
        overall["average_precision"] = overall.pop("mean_average_precision", None)
    name = "**overall** (AP: **mAP**)" if detection else "**overall**"
    rows = [(name, overall)] + list(perf["per_tag"].items())
    return lines + [f"| {tag} | {_pct(m['precision'])} | {_pct(m['recall'])} | {_pct(m['average_precision'])} |"
                    for tag, m in rows]


def _dataset_lines(report: RunReport) -> list[str]:
    trained = report.training.get("dataset") or {}
    if not trained.get("version"):
        return []
    scanned = report.dataset.get("version")
    line = f"- Dataset version: `{trained['version']}`" + (
        " (the working tree's)" if scanned == trained["version"] else
        f" (the working tree is `{scanned}`: `cvops diff` shows what differs)" if scanned else "")
    line += "; recorded in the project" if trained.get("recorded") else "; NOT recorded in the project"
    return [line + (f"; manifest `{trained['manifest']}`" if trained.get("manifest") else "")]


def _confusion_lines(confusion: dict[str, Any]) -> list[str]:
    from pipeline.insight.confusion import KEY, TOP_PAIRS

    if "skipped" in confusion:
        return ["", "### Most confused tags", "", f"Not read: {confusion['skipped']}."]
    pairs, unit = confusion["pairs"], confusion.get("unit", "image")
    held = confusion.get("held_out_images", confusion["images"])
    trained = confusion.get("trained_images")
    lines = ["", f"### Most confused tags (held out: {held} image(s)"
             + (f" of {trained} trained" if trained and trained != held else "")
             + (f", {confusion['boxes']} labelled box(es)" if unit == "box" else "") + ")", "",
             f"Predicted as: {confusion['rule']}. "
             + (f"Top {TOP_PAIRS} of {len(pairs)} pairs; the JSON report has the whole matrix." if len(pairs) > TOP_PAIRS
                else "The JSON report has the whole matrix.")]
    if unit == "box":
        lines += _box_count_lines(confusion["per_tag"])
    if not pairs:
        return lines + ["", f"No held-out {unit} was predicted as another tag than its own."]
    lines += ["", f"| given tag | predicted as | {KEY[unit]} | share of the given tag |", "|---|---|---|---|"]
    return lines + [f"| {p['given']} | {p['predicted']} | {p[KEY[unit]]} | {_pct(p['rate'])} |"
                    for p in pairs[:TOP_PAIRS]]


def _box_count_lines(per_tag: dict[str, dict[str, int]]) -> list[str]:
    """Object detection: each tag's labelled boxes matched (TP), missed (FN), and its wrong detections (FP)."""
    lines = ["", "| tag | labelled boxes | TP | FP | FN |", "|---|---|---|---|---|"]
    return lines + [f"| {tag} | {c['boxes']} | {c['tp']} | {c['fp']} | {c['fn']} |" for tag, c in per_tag.items()]


def _suspect_lines(suspects: dict[str, Any]) -> list[str]:
    from pipeline.insight.suspects import TOP_SUSPECTS

    if "skipped" in suspects:
        return ["", "### Suspect labels", "", f"Not read: {suspects['skipped']}."]
    images = suspects["images"]
    lines = ["", f"### Suspect labels ({suspects['count']} image(s) with another tag more likely than the given one)",
             "",
             f"Score: {suspects['score']}. Suggestions only: no label was changed"
             + ("; `cvops suspects CONFIG` lists them all." if suspects["count"] > TOP_SUSPECTS else ".")]
    if images:
        lines += ["", "| score | file | given | suggested |", "|---|---|---|---|"]
        lines += [f"| {s['score']:.3f} | `{s['name']}` | {s['given']} ({_pct(s['given_probability'])}) | "
                  f"{s['suggested']} ({_pct(s['suggested_probability'])}) |" for s in images[:TOP_SUSPECTS]]
    return lines


def _sync_lines(sync: dict[str, Any]) -> list[str]:
    """The sync in one line, then the drift it left alone (counts; the JSON report names every file)."""
    retag, only, unknown = sync["retag"], sync["only_in_project"], sync["unrecognised"]
    deleted, tags = sync.get("deleted", []), sync.get("tags_deleted", [])
    boxes = sync.get("regions_updated", [])
    lines = [f"- Sync (`dataset.sync: {sync['mode']}`): {len(sync.get('retagged', []))} retagged, "
             + (f"regions of {len(boxes)} image(s) updated ({sync.get('regions_deleted', 0)} deleted, "
                f"{sync.get('regions_created', 0)} created), " if boxes else "")
             + f"{len(deleted)} deleted" + (f", tags deleted: {', '.join(tags)}" if tags else "")]
    regions = sync.get("regions") or {}
    if regions.get("images") and not regions.get("applied"):
        lines.append(f"  - ⚠️ {regions['images']} image(s) with other regions in the project, left alone: "
                     + "; ".join(f"`{f}`" for f in regions["files"][:10]))
    if retag["count"] and not retag["applied"]:
        lines.append(f"  - ⚠️ {retag['count']} image(s) tagged otherwise in the project, left alone: "
                     + "; ".join(f"`{f}`" for f in retag["files"][:10]))
    extra = only["count"] + unknown["count"]
    if extra and not deleted:
        lines.append(f"  - ⚠️ {extra} image(s) in the project are not in the dataset, left alone "
                     "(`mirror` deletes them)")
    return lines


def write(report: RunReport, json_path: Path | None, markdown_path: Path | None,
          environ: dict[str, str] | None = None) -> list[str]:
    """Write the configured files and the GitHub Actions summary and outputs; returns the paths written."""
    environ = dict(os.environ if environ is None else environ)
    written = []
    markdown = to_markdown(report)
    if json_path:
        written.append(_write_report(Path(json_path), json.dumps(report.to_dict(), indent=2) + "\n", report))
    if markdown_path:
        written.append(_write_report(Path(markdown_path), markdown, report))
    if environ.get("GITHUB_STEP_SUMMARY"):
        with open(environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")
    if environ.get("GITHUB_OUTPUT"):
        with open(environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as fh:
            fh.writelines(f"{k}={v}\n" for k, v in github_outputs(report).items())
    return written


def github_outputs(report: RunReport) -> dict[str, str]:
    overall = (report.performance or {}).get("overall", {})
    values = {"outcome": report.outcome, "exit_code": report.exit_code, "project_id": report.project_id or "",
              "published_name": report.published_name, "iteration": report.training.get("iteration", ""),
              "iteration_id": report.training.get("iteration_id", ""),
              "images_uploaded": report.uploads.get("uploaded", 0),
              "images_retagged": len(report.sync.get("retagged", [])),
              "images_deleted": len(report.sync.get("deleted", [])),
              "regions_updated": len(report.sync.get("regions_updated", [])),
              "held": "true" if report.hold else "false",
              "dataset_version": (report.training.get("dataset") or {}).get("version") or "",
              "suspects": (report.suspects or {}).get("count", ""),
              **{k: "" if overall.get(k) is None else f"{overall[k]:.4f}"
                 for k in ("precision", "recall", "mean_average_precision" if "mean_average_precision" in overall
                           else "average_precision")}}
    return {k: redact(str(v)).replace("\n", " ") for k, v in values.items()}


GOOD_OUTCOMES = ("published", "up-to-date")


def beside(path: Path) -> Path:
    """Where a failed run's report goes when a good one is at `path`: report.json -> report.failed.json."""
    return path.with_name(f"{path.stem}.failed{path.suffix}")


def _write_report(path: Path, text: str, report: RunReport) -> str:
    """A failed run never overwrites the last good report: it writes beside it. A good run removes a stale
    failed one beside it."""
    if report.outcome in GOOD_OUTCOMES:
        beside(path).unlink(missing_ok=True)
    elif _holds_good_report(path):
        path = beside(path)
    _write(path, text)
    return str(path)


def _holds_good_report(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text).get("outcome") in GOOD_OUTCOMES
        except (ValueError, AttributeError):
            return False
    headline = "\n".join(text.splitlines()[:3])  # to_markdown: title, blank, "icon **outcome**: ..."
    return any(f"**{outcome}**" in headline for outcome in GOOD_OUTCOMES)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
