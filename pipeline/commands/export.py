"""`cvops export PROJECT FOLDER`: a project's images, tags and record into a folder (and, if asked, into an
Azure Blob Storage container), from Azure or the self-hosted service; a rerun fetches only what is missing."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.progress import Progress
from pipeline.sdk.clients import training_client
from pipeline.transfer.endpoints import Endpoint
from pipeline.transfer.exporting import export_project


def export(source: Endpoint, project: str, folder: str, ui: Progress, container: str | None = None,
           prefix: str = "", account_url: str | None = None) -> dict[str, Any]:
    result = export_project(training_client(source.service), project, Path(folder), source, ui).to_dict()
    if container:
        from pipeline.transfer.blobs import upload_folder
        result["container"] = upload_folder(Path(folder), container, prefix, account_url, ui)
    return result
