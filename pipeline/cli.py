"""The `cvops` command line: validate, plan, run, classify, status, diff, suspects, rollback, release,
export-model; export, import, migrate.
Parses the arguments, loads the config, calls the command (pipeline/commands/), prints its result
(pipeline/render.py) and turns every failure into one line and an exit code:
0 published or up to date; 3 a gate failed; 2 bad config or input; 1 anything else."""
from __future__ import annotations

import argparse
import logging
import sys
import traceback
from typing import Any

from pipeline import render
from pipeline.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, ConfigError, FieldError, PipelineError
from pipeline.progress import Progress
from pipeline.redact import RedactingFilter, redact

EXPORT_PLATFORMS = ("ONNX", "TensorFlow", "CoreML", "DockerFile", "OpenVino", "VAIDK")


def version() -> str:
    from importlib.metadata import PackageNotFoundError, version as installed
    try:
        sdk = installed("azure-cognitiveservices-vision-customvision")
    except PackageNotFoundError:
        sdk = "not installed"
    try:
        own = installed("cvops")
    except PackageNotFoundError:
        own = "unknown (not installed)"
    return f"cvops {own} (azure-cognitiveservices-vision-customvision {sdk}, Python {sys.version.split()[0]})"


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", metavar="NAME", help="read the CUSTOM_VISION_* values from this Pulumi stack")
    common.add_argument("-q", "--quiet", action="store_true", help="print only results and errors")
    common.add_argument("-v", "--verbose", action="store_true",
                        help="log retries, list every file (plan) and show tracebacks")
    parser = argparse.ArgumentParser(prog="cvops", description="Azure Custom Vision image classification as code.")
    parser.add_argument("--version", action="version", version=version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("validate", parents=[common], help="check the config and dataset (no network)") \
        .add_argument("config", metavar="CONFIG")
    plan = sub.add_parser("plan", parents=[common], help="show what `run` would do (-v lists the files)")
    plan.add_argument("config", metavar="CONFIG")
    plan.add_argument("--json", action="store_true", help="print JSON")
    run = sub.add_parser("run", parents=[common], help="upload, sync, train, gate, smoke-test, publish, report")
    run.add_argument("config", metavar="CONFIG")
    run.add_argument("--allow-mass-delete", action="store_true",
                     help="with dataset.sync: mirror, delete even more images than dataset.max_delete allows")
    classify = sub.add_parser("classify", parents=[common],
                              help="classify images (files, folders, URLs) with the published iteration (object detection: their boxes)")
    classify.add_argument("config", metavar="CONFIG", nargs="?")
    classify.add_argument("images", nargs="*", metavar="IMAGE_FOLDER_OR_URL")
    classify.add_argument("--config", dest="config_option", metavar="CONFIG", help=argparse.SUPPRESS)  # old form
    classify.add_argument("--output", choices=("text", "json", "csv"), default="text", help="result format")
    classify.add_argument("--json", action="store_true", help="same as --output json")
    classify.add_argument("--project-id", help="skip looking the project up by name (no training key needed)")
    classify.add_argument("--threshold", type=_fraction, metavar="P",
                          help="object detection: the least probability of an object shown (default: the "
                               "config's evaluation.threshold)")
    classify.add_argument("--draw", metavar="DIR", help="object detection: write each image with its boxes and "
                                                        "labels drawn into DIR")
    status = sub.add_parser("status", parents=[common], help="the published iteration, its metrics, iterations")
    status.add_argument("config", metavar="CONFIG")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument("--confusion", action="store_true",
                        help="add the published iteration's held-out confusion (most confused pairs first)")
    status.add_argument("--top", type=_count, default=20, metavar="N", help="confused pairs listed (default 20)")
    diff = sub.add_parser("diff", parents=[common],
                          help="images added, removed, retagged between two dataset versions")
    diff.add_argument("config", metavar="CONFIG")
    diff.add_argument("--from", dest="before", metavar="ITERATION",
                      help="iteration name or id, or a manifest file (default: the published iteration)")
    diff.add_argument("--to", dest="after", metavar="ITERATION",
                      help="iteration name or id, a manifest file, or working-tree (the default)")
    diff.add_argument("--json", action="store_true", help="print JSON")
    suspects = sub.add_parser("suspects", parents=[common],
                              help="training images whose label looks wrong to the held-out predictions")
    suspects.add_argument("config", metavar="CONFIG")
    suspects.add_argument("--iteration", metavar="NAME", help="iteration name or id (default: the published one)")
    suspects.add_argument("--min-score", type=_score, default=0.0, metavar="S",
                          help="list suspects scoring above S (0 to 1; default 0)")
    suspects.add_argument("--top", type=_count, metavar="N", help="list at most N")
    suspects.add_argument("--all", dest="every", action="store_true",
                          help="rank every held-out image, suspect or not")
    suspects.add_argument("--json", action="store_true", help="print JSON")
    rollback = sub.add_parser("rollback", parents=[common],
                              help="publish the previous (or a named) iteration and hold it there")
    rollback.add_argument("config", metavar="CONFIG")
    rollback.add_argument("--to", metavar="ITERATION", help="iteration name (e.g. 'Iteration 2') or id")
    release = sub.add_parser("release", aliases=["unhold"], parents=[common],
                             help="lift the hold `rollback` set, so that `run` publishes again")
    release.add_argument("config", metavar="CONFIG")
    export = sub.add_parser("export-model", parents=[common],
                            help="download the published (or a named) iteration's exported model")
    export.add_argument("config", metavar="CONFIG")
    export.add_argument("--iteration", metavar="NAME", help="iteration name (e.g. 'Iteration 2') or id; "
                                                            "default: the one published under publish.name")
    export.add_argument("--platform", default="ONNX", type=_platform, metavar="PLATFORM",
                        help=f"one of {', '.join(EXPORT_PLATFORMS)} (default ONNX)")
    export.add_argument("--flavor", help="the platform's flavor: TensorFlow: TensorFlowNormal (the frozen graph, "
                                         "also no flavor), TensorFlowSavedModel, TensorFlowLite, TensorFlowJs; "
                                         "ONNX: OnnxFloat16; DockerFile: Linux, ARM")
    export.add_argument("--output", default=".", metavar="DIR", help="folder the package is written to")
    _transfer_parsers(sub, common)
    return parser


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a probability from 0 to 1")
    return number


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of 1 or more")
    return number


def _score(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0.0 <= number < 1.0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a score from 0 to 1 (1 excluded)")
    return number


def _platform(value: str) -> str:
    """A platform name as Custom Vision spells it (onnx -> ONNX)."""
    for platform in EXPORT_PLATFORMS:
        if platform.lower() == value.lower():
            return platform
    raise argparse.ArgumentTypeError(f"unknown platform {value!r}: choose one of {', '.join(EXPORT_PLATFORMS)}")


def _transfer_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """export, import, migrate: no config file; the services are named by --from / --to (docs/migrate.md)."""
    service = "endpoint URL (key from CVOPS_{0}_TRAINING_KEY) or stack:NAME; default: the CUSTOM_VISION_* variables"
    export = sub.add_parser("export", parents=[common], help="a project's images, tags and record into a folder")
    export.add_argument("project", metavar="PROJECT", help="project name or id")
    export.add_argument("folder", metavar="FOLDER")
    export.add_argument("--from", dest="source", metavar="SOURCE", help=service.format("SOURCE"))
    export.add_argument("--container", help="also copy the export into this Azure Blob Storage container")
    export.add_argument("--prefix", default="", help="with --container: the virtual folder to write below")
    export.add_argument("--account-url", help="with --container: https://ACCOUNT.blob.core.windows.net (the "
                                              "credential comes from AZURE_STORAGE_CONNECTION_STRING, ...)")
    export.add_argument("--json", action="store_true", help="print JSON")
    importing = sub.add_parser("import", parents=[common], help="create a project from an exported folder")
    importing.add_argument("folder", metavar="FOLDER")
    importing.add_argument("--to", dest="target", metavar="TARGET", help=service.format("TARGET"))
    migrate = sub.add_parser("migrate", parents=[common], help="export + import + compare, in one command")
    migrate.add_argument("project", metavar="PROJECT", help="project name or id on the source")
    migrate.add_argument("--from", dest="source", metavar="SOURCE", required=True, help=service.format("SOURCE"))
    migrate.add_argument("--to", dest="target", metavar="TARGET", required=True, help=service.format("TARGET"))
    migrate.add_argument("--folder", help="where the export is kept (default cvops-migrate/SOURCE_PROJECT_ID)")
    for command in (importing, migrate):
        command.add_argument("--project", dest="project_name", metavar="NAME", help="the target project's name (default: the source's)")
        command.add_argument("--domain", metavar="NAME", help="another domain than the source's, by name")
        command.add_argument("--merge", action="store_true", help="add to an existing project with other tags")
        command.add_argument("--train", action="store_true", help="train after the upload")
        command.add_argument("--publish", metavar="NAME", help="train and publish under NAME")
        command.add_argument("--gates", metavar="CONFIG", help="upload, train, gate and publish as this pipeline "
                                                               "config's upload, training, evaluation, gates, "
                                                               "smoke_test and publish say")
        command.add_argument("--json", action="store_true", help="print JSON")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "classify":
        _classify_arguments(parser, args)
    _setup_logging(args.verbose)
    ui = Progress(quiet=args.quiet)
    from pipeline.sdk import notices
    notices.listen(ui.info)  # retries and pacing, as they happen
    try:
        return _dispatch(args, ui)
    except PipelineError as exc:
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_FAILURE
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, exit 1
        from pipeline.sdk.errors import as_pipeline_error
        error = as_pipeline_error(exc)
        if error is not None:
            _error(str(error))
            return error.exit_code
        if args.verbose:
            print(redact(traceback.format_exc()), file=sys.stderr)
        _error(f"unexpected {type(exc).__name__}: {exc}" + ("" if args.verbose else " (--verbose shows more)"))
        return EXIT_FAILURE
    finally:
        notices.listen(None)


def _classify_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """`classify CONFIG IMAGE...` like every other command; `--config CONFIG IMAGE...` still works."""
    if args.config_option:
        args.images = ([args.config] if args.config else []) + args.images
        args.config = args.config_option
    if not args.config or not args.images:
        parser.exit(EXIT_BAD_INPUT, "cvops classify: error: give the config and at least one image, folder or "
                                    "URL: cvops classify CONFIG IMAGE_FOLDER_OR_URL...\n")
    if args.json:
        args.output = "json"


def _dispatch(args: argparse.Namespace, ui: Progress) -> int:
    """Load the config, run the command, print what it returns. Commands import lazily: `--help` stays fast."""
    if args.command in ("export", "import", "migrate"):
        return _transfer(args, ui)
    from pipeline.config.loader import load_config

    loaded = load_config(args.config, stack=args.stack, resolve_stack=args.command != "validate")
    try:
        return _command(args, loaded, ui)
    except FieldError as exc:  # a value found wrong on the service's side: point at its line
        raise loaded.source.error(exc.loc, exc.detail) from None


def _command(args: argparse.Namespace, loaded: Any, ui: Progress) -> int:
    if args.command == "validate":
        from pipeline.commands.validate import validate
        render.validated(args.config, loaded.config.project.name, validate(loaded), loaded.config.dataset.remote)
        return EXIT_OK
    if args.command == "plan":
        from pipeline.commands.plan import plan
        result = plan(loaded).to_dict()
        render.as_json(result) if args.json else render.plan(result, verbose=args.verbose)
        return EXIT_OK
    if args.command == "run":
        from pipeline.commands.run import run
        report = run(loaded, ui, allow_mass_delete=args.allow_mass_delete)
        render.ran(report.outcome, report.message)
        return report.exit_code
    if args.command == "classify":
        from pipeline.commands.classify import classify
        results = classify(loaded, args.images, args.project_id, args.threshold, args.draw)
        if loaded.config.detection:
            {"json": render.as_json, "csv": render.detected_csv}.get(args.output, render.detected)(results)
        else:
            {"json": render.as_json, "csv": render.classified_csv}.get(args.output, render.classified)(results)
    elif args.command == "status":
        from pipeline.commands.status import status
        result = status(loaded, confusion=args.confusion)
        render.as_json(result) if args.json else render.status(result, args.top)
    elif args.command == "diff":
        from pipeline.commands.diff import diff
        result = diff(loaded, args.before, args.after)
        render.as_json(result) if args.json else render.diffed(result, verbose=args.verbose)
    elif args.command == "suspects":
        from pipeline.commands.suspects import suspects
        result = suspects(loaded, args.iteration, args.min_score, args.top, args.every)
        render.as_json(result) if args.json else render.suspected(result)
    elif args.command == "rollback":
        from pipeline.commands.rollback import rollback
        render.rolled_back(rollback(loaded, args.to, ui))
    elif args.command in ("release", "unhold"):
        from pipeline.commands.release import release
        render.released(release(loaded, ui))
    elif args.command == "export-model":
        from pipeline.commands.export_model import export_model
        render.model_exported(export_model(loaded, ui, args.iteration, args.platform, args.flavor, args.output))
    return EXIT_OK


def _transfer(args: argparse.Namespace, ui: Progress) -> int:
    from pipeline.transfer.endpoints import resolve
    from pipeline.transfer.training import plan_training

    if args.command == "export":
        from pipeline.commands.export import export
        result = export(resolve(args.source, "source", args.stack), args.project, args.folder, ui, args.container,
                        args.prefix, args.account_url)
        render.as_json(result) if args.json else render.exported(result)
        return EXIT_OK
    if args.stack and args.command == "migrate":
        raise ConfigError("migrate: name each service with --from stack:NAME / --to stack:NAME instead of --stack")
    training = plan_training(args.train, args.publish, args.gates)
    if args.command == "import":
        from pipeline.commands.import_ import import_
        result = import_(resolve(args.target, "target", args.stack), args.folder, ui, training, args.project_name,
                         args.domain, args.merge)
        render.as_json(result) if args.json else render.imported(result)
    else:
        from pipeline.commands.migrate import migrate
        result = migrate(resolve(args.source, "source"), resolve(args.target, "target"), args.project, ui,
                         training, args.folder, args.project_name, args.domain, args.merge)
        render.as_json(result) if args.json else render.migrated(result)
    if result["exit_code"] and result.get("message"):
        _error(result["message"])
    return result["exit_code"]


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
