"""`cvops run`: the steps in order, each timed, the report written whatever happens."""
from __future__ import annotations

from typing import Any

from pipeline.config.checks import check
from pipeline.config.loader import LoadedConfig
from pipeline.dataset import Dataset
from pipeline.errors import EXIT_OK, GateFailed, PipelineError, UploadError
from pipeline.progress import Progress, Stopwatch
from pipeline.report import RunReport, write
from pipeline.sdk.clients import training_client
from pipeline.sdk.errors import as_pipeline_error
from pipeline.sdk.tiers import tier as tier_named
from pipeline.steps import gates as gate_checks
from pipeline.steps import project as project_step
from pipeline.steps.performance import read_performance
from pipeline.steps.publish import make_room, prune, publish, published_under
from pipeline.steps.smoke import smoke_test
from pipeline.steps.tags import ensure_tags
from pipeline.steps.train import train
from pipeline.steps.upload import input_problem, plan_upload, project_images, upload

MAX_LISTED = 1000  # file names listed in a report


def run(loaded: LoadedConfig, ui: Progress) -> RunReport:
    """The whole pipeline. Returns the report (exit code in it); PipelineErrors propagate after it is written."""
    config = loaded.config
    report = RunReport(loaded.source.file, config.project.name, config.publish.name)
    watch = Stopwatch()
    trainer = None
    try:
        with watch.step("validate"):
            dataset = check(loaded)
        report.dataset = {"path": str(dataset.root), "images": len(dataset.images), "tags": dataset.counts(),
                          "bytes": dataset.total_bytes}
        trainer = training_client(config.service)
        _steps(loaded, dataset, trainer, ui, watch, report)
        report.exit_code = EXIT_OK
        return report
    except Exception as exc:
        error = exc if isinstance(exc, PipelineError) else as_pipeline_error(exc, config.service.training_endpoint)
        report.exit_code = error.exit_code if error else 1
        report.message = str(error or exc).splitlines()[0]
        if isinstance(exc, GateFailed):
            report.outcome = "gate-failed"
        if error is not None and error is not exc:
            raise error from exc
        raise
    finally:
        report.retries = trainer.policy.retries if trainer is not None else 0
        report.timings = {**watch.timings, "total": watch.total}
        try:
            for path in write(report, config.report.json_path, config.report.markdown_path):
                ui.info(f"report: {path}")
        except OSError as exc:  # a report that cannot be written must not hide how the run ended
            ui.warn(f"cannot write the report: {exc}")


def _steps(loaded: LoadedConfig, dataset: Dataset, trainer: Any, ui: Progress, watch: Stopwatch,
           report: RunReport) -> None:
    config = loaded.config
    with watch.step("project"):
        project, created, warnings = project_step.ensure_project(trainer, config.project,
                                                                 tier_named(config.service.tier))
        report.project_id, report.project_created = project.id, created
        for warning in warnings:
            ui.warn(warning)
        report.warnings += warnings
        ui.info(f"project {config.project.name!r}: {'created' if created else 'found'} ({project.id})")
    with watch.step("tags"):
        tag_ids, report.tags_created = ensure_tags(trainer, project.id, dataset.tags)
        if report.tags_created:
            ui.info(f"tags created: {', '.join(report.tags_created)}")
    with watch.step("upload"):
        _upload(loaded, dataset, trainer, project.id, tag_ids, ui, report)
    published = published_under(trainer.get_iterations(project.id), config.publish.name)
    with watch.step("train"):
        make_room(trainer, project.id, {published.id} if published else set())
        with ui.spinner("training ...") as spinner:
            iteration, trained = train(trainer, project.id, config.training, spinner)
        report.training = {"trained": trained, "iteration": iteration.name, "iteration_id": iteration.id}
        ui.info(f"{iteration.name}: {'trained' if trained else 'no training needed, latest completed iteration'}")
    with watch.step("performance"):
        performance = read_performance(trainer, project.id, iteration, config.evaluation.threshold)
        report.performance = performance.to_dict()
        before = None
        if published is not None and published.id != iteration.id and config.gates.no_regression:
            before = read_performance(trainer, project.id, published, config.evaluation.threshold)
            report.published_performance = before.to_dict()
    with watch.step("gates"):
        results = gate_checks.evaluate(config.gates, performance, before)
        if config.smoke_test:
            results += smoke_test(trainer, project.id, iteration.id, config.smoke_test)
        _judge(results, iteration, published, ui, report)
    with watch.step("publish"):
        _publish(loaded, trainer, project.id, iteration, published, ui, report)


def _upload(loaded: LoadedConfig, dataset: Dataset, trainer: Any, project_id: str, tag_ids: dict[str, str],
            ui: Progress, report: RunReport) -> None:
    upload_plan = plan_upload(dataset, project_images(trainer, project_id))
    report.warnings += [f"already uploaded under other tags (left alone): {r}" for r in upload_plan.retag]
    with ui.bar("uploading images", len(upload_plan.to_upload)) as bar:
        result = upload(trainer, project_id, dataset, upload_plan.to_upload, tag_ids, loaded.config.upload, bar)
    report.uploads = {"uploaded": len(result.uploaded), "duplicates": len(result.duplicates),
                      "skipped": len(upload_plan.skipped), "batches": result.batches, "bytes": result.bytes,
                      "files": (result.uploaded + result.duplicates)[:MAX_LISTED],
                      "failures": result.failures[:MAX_LISTED]}
    ui.info(f"images: {len(result.uploaded)} uploaded, {len(result.duplicates)} already there, "
            f"{len(upload_plan.skipped)} unchanged")
    if result.failures:
        listing = "; ".join(f"{name}: {status}" for name, status in result.failures[:10])
        raise UploadError(f"{len(result.failures)} image(s) refused by the service: {listing}",
                          result.failures, input_problem(result.failures))


def _judge(results: list[Any], iteration: Any, published: Any | None, ui: Progress, report: RunReport) -> None:
    """Record every gate; any failure stops the run before anything is published."""
    report.gates = [r.to_dict() for r in results]
    for result in results:
        ui.info(f"gate {'pass' if result.passed else 'FAIL'}: {result.describe()}")
    failed = gate_checks.failed(results)
    if failed:
        kept = f"{published.name} stays published" if published else "nothing is published"
        raise GateFailed(f"{len(failed)} gate(s) failed, {iteration.name} not published ({kept}): "
                         + "; ".join(r.describe() for r in failed))


def _publish(loaded: LoadedConfig, trainer: Any, project_id: str, iteration: Any, published: Any | None,
             ui: Progress, report: RunReport) -> None:
    config = loaded.config
    name = config.publish.name
    if published is not None and published.id == iteration.id:
        report.outcome = "up-to-date"
        report.publish = {"iteration": iteration.name, "previous": None, "changed": False}
        ui.info(f"{iteration.name} is already published as {name!r}: up to date")
    else:
        publish(trainer, project_id, iteration, name, config.service.prediction_resource_id, published)
        report.outcome = "published"
        report.publish = {"iteration": iteration.name, "previous": published.name if published else None,
                          "changed": True}
        ui.info(f"published {iteration.name} as {name!r}" + (f" (was {published.name})" if published else ""))
    report.publish["deleted"] = prune(trainer, project_id, config.publish.keep_iterations, {iteration.id})
    if report.publish["deleted"]:
        ui.info(f"deleted old iterations: {', '.join(report.publish['deleted'])}")
    report.message = f"{iteration.name} published as {name!r}"
