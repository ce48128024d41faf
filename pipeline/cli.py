"""The `cvops` command line: validate, plan, run, classify, status, rollback.
Exit codes: 0 published or up to date; 3 a gate failed; 2 bad config or input; 1 anything else."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
from typing import Any

from pipeline.errors import EXIT_FAILURE, EXIT_OK, PipelineError
from pipeline.progress import Progress
from pipeline.redact import RedactingFilter, redact


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", metavar="NAME", help="read the CUSTOM_VISION_* values from this Pulumi stack")
    common.add_argument("-q", "--quiet", action="store_true", help="print only results and errors")
    common.add_argument("-v", "--verbose", action="store_true", help="log retries and show tracebacks")
    parser = argparse.ArgumentParser(prog="cvops", description="Azure Custom Vision image classification as code.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("validate", parents=[common], help="check the config and dataset (no network)") \
        .add_argument("config", metavar="CONFIG")
    plan = sub.add_parser("plan", parents=[common], help="show what `run` would do")
    plan.add_argument("config", metavar="CONFIG")
    plan.add_argument("--json", action="store_true", help="print JSON")
    sub.add_parser("run", parents=[common], help="upload, train, gate, smoke-test, publish, report") \
        .add_argument("config", metavar="CONFIG")
    classify = sub.add_parser("classify", parents=[common], help="classify images with the published iteration")
    classify.add_argument("--config", required=True, metavar="CONFIG")
    classify.add_argument("--json", action="store_true", help="print JSON")
    classify.add_argument("--project-id", help="skip looking the project up by name (no training key needed)")
    classify.add_argument("images", nargs="+", metavar="IMAGE_OR_URL")
    status = sub.add_parser("status", parents=[common], help="the published iteration, its metrics, iterations")
    status.add_argument("config", metavar="CONFIG")
    status.add_argument("--json", action="store_true", help="print JSON")
    rollback = sub.add_parser("rollback", parents=[common], help="publish the previous (or a named) iteration")
    rollback.add_argument("config", metavar="CONFIG")
    rollback.add_argument("--to", metavar="ITERATION", help="iteration name (e.g. 'Iteration 2') or id")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose)
    ui = Progress(quiet=args.quiet)
    try:
        return _dispatch(args, ui)
    except PipelineError as exc:
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, exit 1
        from pipeline.service import as_pipeline_error
        error = as_pipeline_error(exc)
        if error is not None:
            _error(str(error))
            return error.exit_code
        if args.verbose:
            print(redact(traceback.format_exc()), file=sys.stderr)
        _error(f"unexpected {type(exc).__name__}: {exc}" + ("" if args.verbose else " (--verbose shows more)"))
        return EXIT_FAILURE


def _dispatch(args: argparse.Namespace, ui: Progress) -> int:
    from pipeline.configfile import load_config

    offline = args.command == "validate"
    loaded = load_config(args.config, stack=args.stack, resolve_stack=not offline)
    if args.command == "validate":
        from pipeline.checks import check
        dataset = check(loaded, need_service=True, offline=True)
        if dataset is None:
            _out(f"ok: {args.config}: project {loaded.config.project.name!r}; the dataset at "
                 f"{loaded.config.dataset.url} is not downloaded yet (`cvops plan` or `run` fetches it)")
            return EXIT_OK
        _out(f"ok: {args.config}: project {loaded.config.project.name!r}, {len(dataset.images)} images, "
             f"tags {', '.join(f'{t} ({n})' for t, n in dataset.counts().items())}")
        return EXIT_OK
    if args.command == "plan":
        return _plan(loaded, args)
    if args.command == "run":
        from pipeline.runner import run
        report = run(loaded, ui)
        _out(f"ok: {report.outcome}: {report.message}")
        return report.exit_code
    from pipeline import commands
    if args.command == "classify":
        results = commands.classify(loaded, args.images, args.project_id)
        _out(json.dumps(results, indent=2)) if args.json else _classify_table(results)
    elif args.command == "status":
        result = commands.status(loaded)
        _out(json.dumps(result, indent=2)) if args.json else _status_text(result)
    elif args.command == "rollback":
        result = commands.rollback(loaded, args.to, ui)
        _out(f"ok: {result['iteration']} published as {result['published_name']!r}")
    return EXIT_OK


def _plan(loaded: Any, args: argparse.Namespace) -> int:
    from pipeline.checks import check
    from pipeline.runner import make_plan
    from pipeline.service import training_client

    dataset = check(loaded)
    plan = make_plan(loaded, dataset, training_client(loaded.config.service)).to_dict()
    if args.json:
        _out(json.dumps(plan, indent=2))
        return EXIT_OK
    p = plan["project"]
    lines = [f"project: {p['name']!r} " + ("will be created (domain " + p["domain"] + ")" if p["create"]
                                          else f"exists ({p['id']})")]
    lines.append("tags to create: " + (", ".join(plan["tags_to_create"]) or "none"))
    images = plan["images"]
    lines.append(f"images: {images['upload']} to upload ({images['upload_bytes'] / 1e6:.1f} MB), "
                 f"{images['skip']} already uploaded")
    lines += [f"  + {f}" for f in images["files"][:50]]
    if len(images["files"]) > 50:
        lines.append(f"  ... and {len(images['files']) - 50} more")
    lines += [f"  ! tags differ, left alone: {r}" for r in images["tags_differ"]]
    if images["only_in_project"]:
        lines.append(f"  {images['only_in_project']} image(s) only in the project (left alone)")
    lines.append(f"training: {'needed' if plan['training']['needed'] else 'not needed'} "
                 f"({plan['training']['reason']})")
    pub = plan["publish"]
    lines.append(f"publish as {pub['name']!r}: {pub['would_publish']} (now: {pub['now_published'] or 'nothing'})")
    _out("\n".join(lines))
    return EXIT_OK


def _classify_table(results: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    for result in results:
        table = Table(title=f"{result['image']}: {result['top_tag']} ({result['probability']:.1%})"
                      if result["top_tag"] else f"{result['image']}: no prediction", title_justify="left")
        table.add_column("tag")
        table.add_column("probability", justify="right")
        for prediction in result["predictions"]:
            table.add_row(prediction["tag"], f"{prediction['probability']:.1%}")
        console.print(table)


def _status_text(result: dict[str, Any]) -> None:
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
    _out("\n".join(lines))


def _out(text: str) -> None:
    print(redact(text), flush=True)


def _error(message: str) -> None:
    for line in redact(message).splitlines() or [""]:
        print(f"error: {line}", file=sys.stderr, flush=True)


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING if verbose else logging.CRITICAL)  # libraries: only with --verbose
    logging.getLogger("cvops").setLevel(logging.INFO if verbose else logging.WARNING)
