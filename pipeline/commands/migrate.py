"""`cvops migrate PROJECT --from SOURCE --to TARGET`: export, import, then both sides compared by count and by
content hash (the target's images downloaded again), and, when trained, the source's published iteration's
metrics beside the target's. Iterations themselves cannot be copied: the models stay where they were trained."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.commands.import_ import RESOURCE_HINT, refused
from pipeline.errors import EXIT_FAILURE
from pipeline.progress import Progress
from pipeline.sdk.clients import training_client
from pipeline.transfer import remote
from pipeline.transfer.compare import compare, remote_contents
from pipeline.transfer.endpoints import Endpoint
from pipeline.transfer.exporting import export_project
from pipeline.transfer.importing import import_folder, read_folder
from pipeline.transfer.training import TrainingPlan, require_publishing, train_and_publish

NOT_COPIED = ("Iteration history is not copied: trained models stay on the service that trained them. The "
              "source's iterations and their performance are recorded in project.json; the target trains anew.")


def migrate(source: Endpoint, target: Endpoint, project: str, ui: Progress, training: TrainingPlan,
            folder: str | None = None, name: str | None = None, domain: str | None = None,
            merge: bool = False) -> dict[str, Any]:
    require_publishing(training, target.service.prediction_resource_id, RESOURCE_HINT)
    source_trainer = training_client(source.service)
    found = remote.find(source_trainer, project, source.label)
    where = Path(folder) if folder else Path("cvops-migrate") / found.id
    exported = export_project(source_trainer, found.id, where, source, ui)
    export = read_folder(where)
    target_trainer = training_client(target.service)
    imported = import_folder(target_trainer, export, target.label, ui, name, domain, merge, training.upload)
    ui.info("comparing both sides by content hash ...")
    regions: dict[str, list[dict]] = {}
    contents, unread = remote_contents(target_trainer, imported.project["id"], regions=regions)
    summary = {"source": {**exported.project, "endpoint": source.label},
               "target": {**imported.project, "endpoint": target.label, "created": imported.created},
               "folder": str(where), "export": exported.to_dict(), "import": imported.to_dict(),
               "comparison": compare(exported.images, contents, unread, regions), "metrics": None, "note": NOT_COPIED,
               "exit_code": 0}
    refused(imported, summary)
    if not summary["comparison"]["equal"] and not imported.failures:
        summary["exit_code"] = EXIT_FAILURE
        summary["message"] = "the target does not hold every source image with its tags (see the comparison)"
    if training.wanted and not imported.failures:
        trained = train_and_publish(target_trainer, imported.project["id"], training,
                                    target.service.prediction_resource_id, ui)
        summary["training"] = trained
        summary["metrics"] = {"source": remote.published(export.description), "target": {
            "name": trained["iteration"], "id": trained["iteration_id"], "performance": trained["performance"]}}
        if trained["exit_code"] and not summary["exit_code"]:
            summary["exit_code"], summary["message"] = trained["exit_code"], trained.get("message")
    return summary
