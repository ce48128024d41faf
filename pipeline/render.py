"""What each command prints on stdout: its result as text, or as JSON with --json. Everything goes through the
redactor. (Progress while a command runs is pipeline/progress.py, on stderr; the run's report files are
pipeline/report.py.)"""
from __future__ import annotations

import json
from typing import Any

from pipeline.redact import redact


MAX_LISTED = 50  # names listed on the console before "... and N more"


def out(text: str) -> None:
    print(redact(text), flush=True)


def as_json(result: Any) -> None:
    out(json.dumps(result, indent=2))


def validated(config_path: str, project: str, dataset: Any, dataset_url: str | None) -> None:
    if dataset is None:
        out(f"ok: {config_path}: project {project!r}; the dataset at {dataset_url} is not downloaded yet "
            "(`cvops plan` or `run` fetches it)")
        return
    out(f"ok: {config_path}: project {project!r}, {len(dataset.images)} images, "
        f"tags {', '.join(f'{t} ({n})' for t, n in dataset.counts().items())}")
    if dataset.skipped:
        from pipeline.dataset.scan import skipped_name
        out(f"skipped {len(dataset.skipped)} file(s) or folder(s) in {dataset.root}:")
        out("\n".join(f"  - {skipped_name(dataset, s)}: {s.reason}" for s in dataset.skipped[:MAX_LISTED]))
        if len(dataset.skipped) > MAX_LISTED:
            out(f"  ... and {len(dataset.skipped) - MAX_LISTED} more")


def plan(plan: dict[str, Any], verbose: bool = False) -> None:
    """Counts first; the files themselves only with -v (`--json` has them all)."""
    p = plan["project"]
    lines = [f"project: {p['name']!r} " + ("will be created (domain " + p["domain"] + ")" if p["create"]
                                          else f"exists ({p['id']})")]
    change = p.get("domain_change")
    if change:
        lines.append(f"domain: {change['current']} -> {change['wanted']}: " + (
            "will be moved (project.allow_domain_change)" if change["move"] else
            "left as it is (set project.allow_domain_change: true to move it"
            + ("; compact domains are the ones that export)" if change["exportable"] else ")")))
    lines.append("tags to create: " + (", ".join(plan["tags_to_create"]) or "none"))
    images = plan["images"]
    lines.append(f"images: {images['upload']} to upload ({images['upload_bytes'] / 1e6:.1f} MB), "
                 f"{images['skip']} already uploaded" + ("" if verbose or not images["files"] else
                                                         " (-v lists them)"))
    if verbose:
        lines += [f"  + {f}" for f in images["files"]]
    differ = images.get("tags_differ") or []
    if differ:
        lines.append(f"  {len(differ)} image(s) already uploaded under other tags, left alone"
                     + ("" if verbose else " (-v lists them)"))
        if verbose:
            lines += [f"  ! {r}" for r in differ]
    if images.get("only_in_project"):
        lines.append(f"  {images['only_in_project']} image(s) only in the project (left alone)")
    lines.append(f"training: {'needed' if plan['training']['needed'] else 'not needed'} "
                 f"({plan['training']['reason']})")
    pub = plan["publish"]
    lines.append(f"publish as {pub['name']!r}: {pub['would_publish']} (now: {pub['now_published'] or 'nothing'})")
    out("\n".join(lines))


def ran(outcome: str, message: str) -> None:
    out(f"ok: {outcome}: {message}")


def classified(results: list[dict[str, Any]]) -> None:
    """One table an image: its tags, highest probability first."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    for result in results:
        title = f"{result['image']}: {result['top_tag']} ({result['probability']:.1%})" if result["top_tag"] \
            else f"{result['image']}: no prediction"
        if result.get("resized"):
            title += f" ({result['resized']})"
        table = Table(title=escape(title), title_justify="left")  # a path may hold [brackets]
        table.add_column("tag")
        table.add_column("probability", justify="right")
        for prediction in result["predictions"]:
            table.add_row(prediction["tag"], f"{prediction['probability']:.1%}")
        console.print(table)


def classified_csv(results: list[dict[str, Any]]) -> None:
    """One row an image: the top tag, its probability, then each tag's probability (one column a tag)."""
    import csv
    import io

    tags = sorted({p["tag"] for r in results for p in r["predictions"]})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["image", "top_tag", "probability", *tags])
    for result in results:
        by_tag = {p["tag"]: p["probability"] for p in result["predictions"]}
        writer.writerow([result["image"], result["top_tag"] or "", _fraction(result["probability"]),
                         *(_fraction(by_tag.get(tag)) for tag in tags)])
    out(buffer.getvalue().rstrip("\n"))


def _fraction(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def status(result: dict[str, Any]) -> None:
    lines = [f"project: {result['project']['name']} ({result['project']['id']})",
             f"published as {result['published_name']!r}: {result['published'] or 'nothing'}"]
    perf = result["performance"]
    if perf:
        fmt = lambda m: " ".join(f"{k}={'n/a' if v is None else f'{v:.3f}'}" for k, v in m.items())  # noqa: E731
        lines.append(f"performance at threshold {perf['threshold']:g}: {fmt(perf['overall'])}")
        lines += [f"  {tag}: {fmt(m)}" for tag, m in perf["per_tag"].items()]
    lines.append(f"iterations ({len(result['iterations'])}):")
    lines += [f"  {i['name']}  {i['status']}  {i['created'] or ''}" + (f"  published as {i['published_as']!r}"
                                                                       if i["published_as"] else "")
              for i in result["iterations"]]
    out("\n".join(lines))


def rolled_back(result: dict[str, Any]) -> None:
    out(f"ok: {result['iteration']} published as {result['published_name']!r}")


def model_exported(result: dict[str, Any]) -> None:
    out(f"ok: {result['iteration']} exported ({result['platform']}"
        + (f" {result['flavor']}" if result.get("flavor") else "") + f") to {result['path']} "
        f"({result['bytes'] / 1e6:.1f} MB)")
