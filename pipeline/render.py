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
    regions = (f", {sum(len(image.regions) for image in dataset.images)} regions (boxes)"
               if dataset.detection else "")
    out(f"ok: {config_path}: project {project!r}, {len(dataset.images)} images{regions}, "
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
    lines += sync_lines(plan["sync"], verbose)
    version = plan["dataset"]
    if version["published_version"] is None:
        lines.append(f"dataset version: {version['version']}")
    elif version["published_version"] == version["version"]:
        lines.append(f"dataset version: {version['version']}, the one the published iteration trained on")
    else:
        lines.append(f"dataset version: {version['version']}; the published iteration trained on "
                     f"{version['published_version']} (`cvops diff` lists what differs)")
    lines.append(f"training: {'needed' if plan['training']['needed'] else 'not needed'} "
                 f"({plan['training']['reason']})")
    pub = plan["publish"]
    lines.append(f"publish as {pub['name']!r}: {pub['would_publish']} (now: {pub['now_published'] or 'nothing'})")
    out("\n".join(lines))


def sync_lines(sync: dict[str, Any], verbose: bool) -> list[str]:
    """What `dataset.sync` does, with counts; the files with --verbose."""
    mode, retag, only, unknown, delete = (sync[k] for k in ("mode", "retag", "only_in_project", "unrecognised",
                                                             "delete"))
    lines = [f"sync ({mode}):"]
    if retag["count"]:
        what = "retag" if retag["applied"] else "left alone (add-only; retag or mirror retags them)"
        lines.append(f"  tags differ from the dataset: {retag['count']} image(s): {what}")
        lines += [f"    ~ {f}" for f in retag["files"]] if verbose else []
    if only["count"]:
        what = "delete" if only["deleted"] else "left alone (mirror deletes them)"
        lines.append(f"  no longer in the dataset: {only['count']} image(s): {what}")
        lines += [f"    - {i}" for i in only["images"]] if verbose else []
    if unknown["count"]:
        maybe, fate = unknown["may_be_dataset_images"], "delete" if only["deleted"] else "left alone"
        lines.append(f"  not recognised (no cvops record): {unknown['count']} image(s): "
                     + (f"up to {maybe} may be dataset images that the upload finds again (OKDuplicate), the "
                        f"others: {fate}" if maybe else f"not in the dataset: {fate}"))
        lines += [f"    ? {i}" for i in unknown["images"]] if verbose else []
    regions = sync.get("regions") or {}
    if regions.get("images"):
        what = "update them" if regions["applied"] else "left alone (add-only; retag or mirror updates them)"
        lines.append(f"  boxes differ from the dataset: {regions['images']} image(s), {regions['delete']} region(s) "
                     f"to delete and {regions['create']} to create: {what}")
        lines += [f"    ~ {f}" for f in regions["files"]] if verbose else []
    if not (retag["count"] or only["count"] or unknown["count"] or regions.get("images")):
        lines.append("  the project's images match the dataset")
    if delete["count"]:
        lines.append(f"  would delete: {delete['count']} image(s), limit {delete['limit']}"
                     + (": REFUSED unless --allow-mass-delete or a higher dataset.max_delete" if delete["over_limit"]
                        else ""))
    if not verbose and (retag["count"] or only["count"] or unknown["count"] or regions.get("images")):
        lines.append("  (-v lists the files)")
    return lines


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


def detected(results: list[dict[str, Any]]) -> None:
    """One table an image: its objects, most probable first, with their boxes in pixels."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    for result in results:
        size = f" ({result['size'][0]}x{result['size'][1]} px)" if result["size"] else ""
        title = f"{result['image']}{size}: {len(result['objects'])} object(s) at >= {result['threshold']:g}"
        title += f", {result['below_threshold']} below" if result["below_threshold"] else ""
        title += f" ({result['resized']})" if result.get("resized") else ""
        title += f"; drawn: {result['drawn']}" if result.get("drawn") else ""
        table = Table(title=escape(title), title_justify="left")
        for column, justify in (("tag", "left"), ("probability", "right"), ("left", "right"), ("top", "right"),
                                ("width", "right"), ("height", "right")):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for found in result["objects"]:
            box = found["box"] or {k: f"{v:.4f}" for k, v in found["normalised"].items()}  # a URL: normalised
            table.add_row(escape(found["tag"]), f"{found['probability']:.1%}",
                          *(str(box[k]) for k in ("left", "top", "width", "height")))
        console.print(table)


def detected_csv(results: list[dict[str, Any]]) -> None:
    """One row an object: image, tag, probability, the box in pixels, then normalised."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    keys = ("left", "top", "width", "height")
    writer.writerow(["image", "tag", "probability", *keys, *(f"{k}_normalised" for k in keys)])
    for result in results:
        for found in result["objects"]:
            pixels = found["box"] or {}
            writer.writerow([result["image"], found["tag"], _fraction(found["probability"]),
                             *(pixels.get(k, "") for k in keys), *(_fraction(found["normalised"][k]) for k in keys)])
    out(buffer.getvalue().rstrip("\n"))


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


def status(result: dict[str, Any], top: int = 20) -> None:
    domain = result["domain"]
    lines = [f"project: {result['project']['name']} ({result['project']['id']})",
             f"domain: {domain['name'] or domain['id']}, exports to: "
             + (", ".join(domain["exportable_platforms"]) or "nothing (only compact domains export)"),
             f"published as {result['published_name']!r}: {result['published'] or 'nothing'}"]
    if result.get("hold"):
        hold = result["hold"]
        lines.append(f"hold: {hold['publish_name']!r} stays on {hold['iteration']} (by {hold['by']}, {hold['since']}); "
                     "`cvops run` does not publish until `cvops release`")
    if result["published"]:
        version = result.get("dataset_version")
        lines.append(f"dataset version: {version}" if version else
                     "dataset version: not recorded (trained before cvops recorded versions, or outside cvops)")
    perf = result["performance"]
    if perf:
        fmt = lambda m: " ".join(f"{k}={'n/a' if v is None else f'{v:.3f}'}" for k, v in m.items())  # noqa: E731
        overlap = f", overlap {perf['overlap_threshold']:g}" if perf.get("overlap_threshold") is not None else ""
        lines.append(f"performance at threshold {perf['threshold']:g}{overlap}: {fmt(perf['overall'])}")
        lines += [f"  {tag}: {fmt(m)}" for tag, m in perf["per_tag"].items()]
    lines.append(f"iterations ({len(result['iterations'])}):")
    lines += [f"  {i['name']}  {i['status']}  {i['created'] or ''}" + (f"  published as {i['published_as']!r}"
                                                                       if i["published_as"] else "")
              + (f"  exports to: {', '.join(i['exportable_to'])}" if i["exportable_to"] else "")
              + (f"  dataset {i['dataset_version']}" if i.get("dataset_version") else "")
              for i in result["iterations"]]
    if "confusion" in result:
        lines += confusion_lines(result["confusion"], top)
    out("\n".join(lines))


def confusion_lines(confusion: dict[str, Any] | None, top: int) -> list[str]:
    """The most confused pairs, one a line: `confused  GIVEN -> PREDICTED  N image(s)  RATE of GIVEN`."""
    if confusion is None:
        return ["confusion: nothing is published"]
    from pipeline.insight.confusion import KEY, PLURAL

    held, trained = confusion["held_out_images"], confusion.get("trained_images")
    pairs, unit = confusion["pairs"], confusion.get("unit", "image")
    boxes = f", {confusion['boxes']} labelled box(es)" if unit == "box" else ""
    lines = [f"confusion (held out: {held} image(s)" + (f" of {trained} trained" if trained and trained != held
                                                        else "") + f"{boxes}; predicted as: {confusion['rule']}): "
             + (f"{len(pairs)} confused pair(s)" + (f", the {top} worst:" if len(pairs) > top else ":")
                if pairs else f"no {unit} was predicted as another tag than its own")]
    lines += [f"  confused\t{p['given']} -> {p['predicted']}\t{p[KEY[unit]]} {PLURAL[unit]}\t{p['rate']:.1%} of "
              f"{p['given']}" for p in pairs[:top]]
    if unit == "box":  # object detection: each tag's boxes, matched (TP), missed (FN), detected wrongly (FP)
        lines += [f"  boxes\t{tag}\t{c['boxes']} labelled\tTP {c['tp']}\tFP {c['fp']}\tFN {c['fn']}"
                  for tag, c in confusion["per_tag"].items()]
    return lines


def diffed(result: dict[str, Any], verbose: bool = False) -> None:
    """Headers, notes, one change a line (tab-separated, the kind first), the tags whose counts changed."""
    def side(s: dict[str, Any]) -> str:
        return f"dataset {s['version']} ({s['images']} images), {s['source']}"
    lines = [f"from\t{side(result['from'])}", f"to\t{side(result['to'])}"]
    lines += [f"note\t{note}" for note in result["notes"]]
    from pipeline.insight.diff import Change, TagChange
    lines += [Change(c["kind"], c["name"], c["key"], tuple(c["before"]), tuple(c["after"]),
                     tuple(c["regions"]) if "regions" in c else None).line() for c in result["changes"]]
    lines += [TagChange(**counts).line(tag) for tag, counts in result["tags"].items()
              if verbose or counts["before"] != counts["after"] or counts["added"] or counts["removed"]]
    counts = result["counts"]
    lines.append("summary\t" + ("the same dataset version" if result["same"] else
                                ", ".join(f"{counts[k]} {k}" for k in ("added", "removed", "retagged"))
                                + (f", {counts['boxes']} with other boxes" if counts["boxes"] else "")))
    out("\n".join(lines))


def suspected(result: dict[str, Any]) -> None:
    """A header (lines starting with #), then one suspect a line: score, file, given tag, suggested tag."""
    it = result["iteration"]
    shown = len(result["suspects"])
    lines = [f"# {it['name']}" + (f" (published as {it['published_as']!r})" if it["published_as"] else "")
             + (f": {result['count']} image(s) ranked, suspect or not" if result["every"] else
                f": {result['count']} suspect label(s) with a score above {result['min_score']:g}")
             + (f", the first {shown} listed" if shown < result["count"] else "")
             + f" (held out: {result['held_out_images']} image(s))",
             f"# score: {result['score']}; suggestions only, no label was changed",
             "# score\tfile\tgiven\tsuggested"]
    lines += [f"{s['score']:.3f}\t{s['name']}\t{s['given']}\t{s['suggested']}" for s in result["suspects"]]
    out("\n".join(lines))


def rolled_back(result: dict[str, Any]) -> None:
    out(f"ok: {result['iteration']} published as {result['published_name']!r}, held there until `cvops release`")


def released(result: dict[str, Any]) -> None:
    hold = result["released"]
    out(f"ok: released {result['published_name']!r} (it was held on {hold['iteration']} since {hold['since']})"
        if hold else f"ok: {result['published_name']!r} is not held")


def _tag_counts(tags: dict[str, int]) -> str:
    return ", ".join(f"{tag} ({n})" for tag, n in tags.items()) or "none"


def exported(result: dict[str, Any]) -> None:
    p = result["project"]
    kind = "object detection" if p.get("project_type") == "ObjectDetection" else p["classification_type"]
    lines = [f"ok: exported {p['name']!r} ({kind}, domain {p['domain']}) to {result['folder']}",
             f"images: {result['images']} ({result['untagged']} untagged), {result['bytes'] / 1e6:.1f} MB; "
             f"tags {_tag_counts(result['tags'])}"
             + (f"; {result['regions']} regions" if result.get("regions") else ""),
             f"this run: {result['downloaded']} downloaded, {result['kept']} already here (hashes checked), "
             f"{result['moved']} moved (tags changed), {result['removed']} removed (gone from the project)"]
    if "container" in result:
        c = result["container"]
        lines.append(f"container {c['container']!r}, prefix {c['prefix']!r}: {c['uploaded']} of {c['files']} "
                     "file(s) uploaded")
    out("\n".join(lines))


def _imported_lines(result: dict[str, Any]) -> list[str]:
    p = result["project"]
    lines = [f"project {p['name']!r} ({p['id']}): {'created' if result['created'] else 'found'}; tags created: "
             f"{', '.join(result['tags_created']) or 'none'}",
             f"images: {result['uploaded']} uploaded, {result['already_there']} already there, "
             f"{result['unchanged']} unchanged, {len(result['failures'])} refused"]
    lines += [f"  refused: {f['file']}: {f['status']}" for f in result["failures"][:50]]
    lines += [f"  ! tags differ, left alone: {r}" for r in result["tags_differ"][:50]]
    return lines


def _trained_lines(training: dict[str, Any] | None) -> list[str]:
    if not training:
        return []
    overall = training["performance"]["overall"]
    lines = [f"{training['iteration']}: {'trained' if training['trained'] else 'latest completed'}; at threshold "
             f"{training['performance']['threshold']:g}: " + _metrics(overall)]
    lines += [f"  gate {'pass' if g['passed'] else 'FAIL'}: {g['gate']}" for g in training["gates"]]
    if training["published"]:
        lines.append(f"published as {training['published']!r}")
    return lines


def _metrics(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={'n/a' if v is None else f'{v:.3f}'}" for k, v in values.items())


def imported(result: dict[str, Any]) -> None:
    out("\n".join([("ok: imported" if not result["exit_code"] else "imported, with problems:")]
                  + _imported_lines(result) + _trained_lines(result["training"])))


def migrated(result: dict[str, Any]) -> None:
    s, t, c = result["source"], result["target"], result["comparison"]
    lines = [f"{'ok: ' if not result['exit_code'] else ''}migrated {s['name']!r} ({s['endpoint']}) -> {t['name']!r} "
             f"({t['endpoint']}), by way of {result['folder']}",
             f"images: source {c['source']['images']}, target {c['target']['images']}; by SHA-256 "
             + ("equal" if c["equal"] else f"NOT equal: {c['missing_on_target']} missing on the target, "
                f"{c['tags_differ']} with other tags, {c.get('regions_differ', 0)} with other regions, "
                f"{c['unreadable_on_target']} unreadable"),
             "tags (source / target): " + ", ".join(
                 f"{tag} {n}/{c['target']['tags'].get(tag, 0)}" for tag, n in c["source"]["tags"].items())]
    if c["only_on_target"]:
        lines.append(f"  {c['only_on_target']} image(s) only on the target (it already had them)")
    for kind, examples in c["examples"].items():
        lines += [f"  {kind.replace('_', ' ')}: {e}" for e in examples]
    i = result["import"]
    lines.append(f"target project {'created' if i['created'] else 'found'}: {i['uploaded']} image(s) uploaded, "
                 f"{i['already_there']} already there, {i['unchanged']} unchanged, {len(i['failures'])} refused")
    lines += [f"  refused: {f['file']}: {f['status']}" for f in i["failures"][:50]]
    metrics = result.get("metrics")
    if metrics:
        source = metrics["source"]
        if source:
            lines.append(f"source {source['name']}" + (f" (published as {source['publish_name']!r})"
                                                       if source.get("publish_name") else "")
                         + ": " + _metrics(source["performance"]["overall"]))
        else:
            lines.append("source: no trained iteration")
        lines.append(f"target {metrics['target']['name']}: " + _metrics(metrics["target"]["performance"]["overall"]))
    lines += _trained_lines(result.get("training"))[1:]
    lines.append(f"note: {result['note']}")
    out("\n".join(lines))


def model_exported(result: dict[str, Any]) -> None:
    out(f"ok: {result['iteration']} exported ({result['platform']}"
        + (f" {result['flavor']}" if result.get("flavor") else "") + f") to {result['path']} "
        f"({result['bytes'] / 1e6:.1f} MB)")
