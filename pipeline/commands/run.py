"""`cvops run`: the steps in order, each timed, the report written whatever happens."""
from __future__ import annotations

from typing import Any

from pipeline.config.checks import check
from pipeline.config.loader import LoadedConfig
from pipeline.dataset import Dataset
from pipeline.errors import EXIT_OK, GateFailed, PipelineError, UploadError
from pipeline.insight import versions
from pipeline.insight.analysis import RUN_READ_LIMIT, Insight, analyse, namer, trained_images
from pipeline.insight.heldout import forget_others
from pipeline.insight.trained import content_keys, files_by_key, working_tree
from pipeline.progress import Progress, Stopwatch
from pipeline.report import RunReport, write
from pipeline.sdk.clients import training_client
from pipeline.sdk.errors import CALL_FAILED, as_pipeline_error
from pipeline.sdk.tiers import tier as tier_named
from pipeline.steps import gates as gate_checks
from pipeline.steps import image_map, sync
from pipeline.steps import regions as region_sync
from pipeline.steps import project as project_step
from pipeline.steps.hold import hold_on
from pipeline.steps.performance import read_performance
from pipeline.steps.publish import make_room, prune, publish, published_under
from pipeline.steps.smoke import smoke_test
from pipeline.steps.tags import ensure_tags
from pipeline.steps.train import train
from pipeline.steps.upload import UploadResult, input_problem, relative, upload

MAX_LISTED = 1000  # file names listed in a report
SHOWN = 5  # file names a console line shows (the report has them all)


def run(loaded: LoadedConfig, ui: Progress, allow_mass_delete: bool = False) -> RunReport:
    """The whole pipeline. Returns the report (exit code in it); PipelineErrors propagate after it is written.
    `allow_mass_delete` lifts the safety limit on the images `dataset.sync: mirror` deletes."""
    config = loaded.config
    report = RunReport(loaded.source.file, config.project.name, config.publish.name)
    watch = Stopwatch()
    trainer = None
    try:
        with watch.step("validate"):
            dataset = check(loaded)
        report.dataset = {"path": str(dataset.root), "images": len(dataset.images), "tags": dataset.counts(),
                          "bytes": dataset.total_bytes, "version": working_tree(dataset).version}
        if dataset.detection:
            report.dataset["regions"] = sum(len(image.regions or ()) for image in dataset.images)
        trainer = training_client(config.service)
        _steps(loaded, dataset, trainer, ui, watch, report, allow_mass_delete)
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
           report: RunReport, allow_mass_delete: bool) -> None:
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
        state, plan, uploaded, limit = _upload(loaded, dataset, trainer, project.id, tag_ids, ui, report,
                                               allow_mass_delete)
    with watch.step("sync"):
        _sync(dataset, trainer, project.id, tag_ids, state, plan, uploaded, limit, allow_mass_delete, ui, report)
    iterations = trainer.get_iterations(project.id)
    published = published_under(iterations, config.publish.name)
    with watch.step("train"):
        make_room(trainer, project.id, {published.id} if published else set())
        with ui.spinner("training ...") as spinner:
            iteration, trained = train(trainer, project.id, config.training, spinner)
        report.training = {"trained": trained, "iteration": iteration.name, "iteration_id": iteration.id}
        ui.info(f"{iteration.name}: {'trained' if trained else 'no training needed, latest completed iteration'}")
    keys, files = content_keys(plan.images), files_by_key(dataset)
    with watch.step("dataset version"):
        version, warnings = versions.record_trained(trainer, project, iteration, keys, files,
                                                    versions.manifests_folder(config), {i.id for i in iterations})
        report.training["dataset"] = version
        _warn(warnings, ui, report)
        ui.info(f"{iteration.name} trained on dataset version {version['version']}")
    with watch.step("performance"):
        overlap = config.evaluation.overlap_threshold if config.detection else None
        performance = read_performance(trainer, project.id, iteration, config.evaluation.threshold, overlap)
        report.performance = performance.to_dict()
        before = None
        if published is not None and published.id != iteration.id and config.gates.no_regression:
            before = read_performance(trainer, project.id, published, config.evaluation.threshold, overlap)
            report.published_performance = before.to_dict()
        insight = _insight(loaded, trainer, project.id, iteration, {i.id for i in iterations}, len(tag_ids),
                           namer(keys, files), ui, report)
    with watch.step("gates"):
        results = gate_checks.evaluate(config.gates, performance, before)
        results += gate_checks.evaluate_insight(config.gates, insight)
        if config.smoke_test:
            results += smoke_test(trainer, project.id, iteration.id, config.smoke_test, config.evaluation.threshold,
                                  config.detection)
        _judge(results, iteration, published, ui, report)
    with watch.step("publish"):
        _publish(loaded, trainer, project.id, iteration, published, ui, report)


def _insight(loaded: LoadedConfig, trainer: Any, project_id: str, iteration: Any, live: set[str], tags: int,
             name: Any, ui: Progress, report: RunReport) -> Insight | None:
    """The held-out confusion and suspect labels; a service without the held-out predictions is said, not fatal
    (the confusion and suspects gates then fail). Past RUN_READ_LIMIT predictions they are read only for a gate."""
    config = loaded.config
    try:
        trained = report.training["dataset"].get("images")  # listed now, else asked
        trained = trained_images(trainer, project_id, iteration) if trained is None else trained
        gated = config.gates.confusion is not None or config.gates.suspects is not None
        if not gated and trained * tags > RUN_READ_LIMIT:
            note = (f"{trained:,} image(s) x {tags} tags of held-out predictions is more than a run reads unless "
                    "a gate needs them: `cvops status --confusion` and `cvops suspects` read them on demand")
            report.confusion = {"skipped": note}
            ui.info(f"held out: {note}")
            return None
        kept = versions.manifests_folder(config)
        insight = analyse(trainer, project_id, iteration, config.project.classification_type == "Multilabel",
                          config.evaluation.threshold, name, trained=trained, kept=kept, keep=True,
                          overlap=config.evaluation.overlap_threshold if config.detection else None)
        if kept is not None:
            forget_others(kept, live | {iteration.id})
    except CALL_FAILED as exc:
        _warn([f"no held-out predictions for {iteration.name} (get_image_performances: "
               f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}): no confusion or suspects"], ui, report)
        return None
    report.confusion, report.suspects = insight.report()
    worst = insight.confusion.worst
    boxes = f", {report.confusion['boxes']} labelled box(es)" if insight.detection else ""
    ui.info(f"held out: {len(insight.held_out.images)} image(s){boxes}; most confused: "
            + (worst.describe() if worst else "none")
            + ("" if insight.detection else f"; suspect labels: {len(insight.suspects)}"))
    return insight


def _warn(warnings: list[str], ui: Progress, report: RunReport) -> None:
    for warning in warnings:
        report.warnings.append(warning)
        ui.warn(warning)


def _upload(loaded: LoadedConfig, dataset: Dataset, trainer: Any, project_id: str, tag_ids: dict[str, str],
            ui: Progress, report: RunReport, allow_mass_delete: bool
            ) -> tuple[sync.ProjectState, sync.SyncPlan, UploadResult, int]:
    """Upload what the project lacks; returns the sync plan as it stands once every dataset image has its id."""
    config = loaded.config
    name = lambda item: relative(dataset, item)  # noqa: E731
    state = sync.read_project(trainer, project_id)
    before = sync.diff(dataset, state.images, config.dataset.sync, name)
    limit = sync.delete_limit(config.dataset.max_delete, len(state.listed))
    if before.deletes:  # what is known already is refused before anything changes
        sync.check_delete_limit(len(before.only_in_project), limit, allow_mass_delete, len(state.listed))
    if before.retags and before.regions:
        _check_region_limit(config.dataset.max_delete, before, state, allow_mass_delete)
    with ui.bar("uploading images", len(before.to_upload)) as bar:
        result = upload(trainer, project_id, dataset, before.to_upload, tag_ids, config.upload, state.metadata, bar)
    report.uploads = {"uploaded": len(result.uploaded), "duplicates": len(result.duplicates),
                      "skipped": len(before.present), "batches": result.batches, "bytes": result.bytes,
                      "requests": result.batches + result.metadata_calls, "unrecorded": result.unrecorded,
                      "files": (result.uploaded + result.duplicates)[:MAX_LISTED],
                      "failures": result.failures[:MAX_LISTED]}
    batches = f" in {result.batches} batch(es)" if result.batches else ""
    ui.info(f"images: {len(result.uploaded)} uploaded{batches}, {len(result.duplicates)} found again (OKDuplicate), "
            f"{len(before.present)} in the project already")
    if result.unrecorded:
        report.warnings.append(f"{result.unrecorded} image(s) had no room left in their metadata for cvops' "
                               "record; the next run finds them again by uploading them (OKDuplicate)")
        ui.warn(report.warnings[-1])
    if result.failures:
        listing = "; ".join(f"{name}: {status}" for name, status in result.failures[:10])
        raise UploadError(f"{len(result.failures)} image(s) refused by the service: {listing}",
                          result.failures, input_problem(result.failures))
    after = sync.after_upload(dataset, state.images, result.images, tag_ids, config.dataset.sync, name)
    if after.retags and after.regions:
        _check_region_limit(config.dataset.max_delete, after, state, allow_mass_delete)
    return state, after, result, limit


def _check_region_limit(max_delete: int | None, plan: sync.SyncPlan, state: sync.ProjectState,
                        allow_mass_delete: bool) -> None:
    project_regions = sum(len(image.regions) for image in state.images)
    region_sync.check_delete_limit(plan.regions, region_sync.delete_limit(max_delete, project_regions),
                                   allow_mass_delete, project_regions)


def _sync(dataset: Dataset, trainer: Any, project_id: str, tag_ids: dict[str, str], state: sync.ProjectState,
          plan: sync.SyncPlan, uploaded: UploadResult, limit: int, allow_mass_delete: bool, ui: Progress,
          report: RunReport) -> None:
    """Retag and delete as `dataset.sync` says; drift left alone is said on the console and in the report."""
    project_size = len(plan.images)
    report.sync = plan.summary(limit, project_size, MAX_LISTED)
    if plan.deletes:
        sync.check_delete_limit(len(plan.to_delete()), limit, allow_mass_delete, project_size)
    done = sync.apply(trainer, project_id, plan, tag_ids, dataset.tags)
    calls = done.calls
    if done.deleted_ids:  # maps carried only by deleted images are written again onto the images they name
        found_again = {image.id for image in uploaded.images.values()}
        orphaned = [e for e in state.identities.orphaned_by(done.deleted_ids) if e[0] not in found_again]
        if orphaned:
            calls += image_map.record(trainer, project_id, orphaned, state.metadata).calls
    report.sync.update({"retagged": done.retagged[:MAX_LISTED], "deleted": done.deleted[:MAX_LISTED],
                        "tags_deleted": done.tags_deleted, "requests": calls,
                        "regions_updated": done.regions.updated[:MAX_LISTED],
                        "regions_created": done.regions.created, "regions_deleted": done.regions.deleted})
    _say_sync(plan, done, ui, report)


def _say_sync(plan: sync.SyncPlan, done: sync.SyncResult, ui: Progress, report: RunReport) -> None:
    def names(items: list[str]) -> str:
        return ": " + "; ".join(items[:SHOWN]) + (f"; ... and {len(items) - SHOWN} more (see the report)"
                                                  if len(items) > SHOWN else "")
    mode = plan.mode
    if done.retagged:
        ui.info(f"retagged {len(done.retagged)} image(s) as the dataset says" + names(done.retagged))
    elif plan.retag:
        report.warnings.append(f"{len(plan.retag)} image(s) have other tags in the project than in the dataset, "
                               f"left alone (dataset.sync: {mode}; retag or mirror retags them)"
                               + names([r.describe() for r in plan.retag]))
        ui.warn(report.warnings[-1])
    if done.regions.updated:
        ui.info(f"updated the regions of {len(done.regions.updated)} image(s) as the dataset says ("
                f"{done.regions.deleted} deleted, {done.regions.created} created)" + names(done.regions.updated))
    elif plan.regions:
        report.warnings.append(f"{len(plan.regions)} image(s) have other regions in the project than in the "
                               f"dataset, left alone (dataset.sync: {mode}; retag or mirror updates them)"
                               + names([c.describe() for c in plan.regions]))
        ui.warn(report.warnings[-1])
    if done.deleted:
        ui.info(f"deleted {len(done.deleted)} image(s) that the dataset no longer has" + names(done.deleted))
    else:
        extra = [i.describe() for i in plan.only_in_project + plan.unrecognised]
        if extra:
            report.warnings.append(f"{len(extra)} image(s) in the project are not in the dataset, left alone "
                                   f"(dataset.sync: {mode}; mirror deletes them)" + names(extra))
            ui.warn(report.warnings[-1])
    if done.tags_deleted:
        ui.info(f"deleted tags the sync emptied and the dataset no longer names: {', '.join(done.tags_deleted)}")


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
    hold = None
    if published is None or published.id != iteration.id:
        hold = hold_on(trainer.get_project(project_id), name)  # read now: a rollback may have come meanwhile
    if hold is not None and hold.iteration_id != iteration.id:
        report.outcome = "held"
        report.hold = hold.to_dict()
        report.publish = {"iteration": published.name if published else None, "previous": None, "changed": False,
                          "held": True}
        report.message = (f"{iteration.name} passed the gates but is not published: {hold.describe()}; "
                          "`cvops release` lifts the hold")
        ui.warn(report.message)
        report.publish["deleted"] = prune(trainer, project_id, config.publish.keep_iterations,
                                          {iteration.id, hold.iteration_id})
        return
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
