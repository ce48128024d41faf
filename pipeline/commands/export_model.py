"""`cvops export-model`: download an iteration's exported model (the published one, or one named), as Azure's
portal "Export" does: `export_iteration`, then `get_exports` until the export is Done, then its
`download_uri` (a link that needs no key).

Only iterations trained on a compact domain export; for any other the error says how to move the project
(`project.domain` + `project.allow_domain_change`, shown by `plan`, done by `run`, which trains again)."""
from __future__ import annotations

import os
import re
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from pipeline.config.loader import LoadedConfig
from pipeline.errors import PipelineError, ServiceError
from pipeline.progress import Progress
from pipeline.sdk.clients import training_client
from pipeline.sdk.errors import HttpOperationError, error_code
from pipeline.sdk.iterations import by_age
from pipeline.steps.project import require_project
from pipeline.steps.publish import find_iteration, published_under

EXPORT_TIMEOUT_S = 600.0
DOWNLOAD_TIMEOUT_S = 60
DOWNLOAD_ATTEMPTS = 3
CHUNK = 1 << 20
IN_PROGRESS = "BadRequestExportAlreadyInProgress"


class ExportRefused(PipelineError):
    """The iteration cannot be exported as asked (domain, platform, status): the message says what to do."""


def export_model(loaded: LoadedConfig, ui: Progress, iteration_name: str | None = None, platform: str = "ONNX",
                 flavor: str | None = None, output: str | Path = ".", sleep=time.sleep) -> dict[str, Any]:
    config = loaded.config
    trainer = training_client(config.service)
    project = require_project(trainer, config.project.name)
    iteration = _iteration(trainer.get_iterations(project.id), iteration_name, config.publish.name)
    _check_exportable(trainer, iteration, platform)
    export = _finished_export(trainer, project.id, iteration, platform, flavor, ui, sleep)
    platform, flavor = export.platform or platform, export.flavor  # as the service spells them
    target = Path(output).expanduser() / _file_name(project.name, iteration.name, platform, flavor)
    size = _download(export.download_uri, target, ui)
    return {"iteration": iteration.name, "iteration_id": iteration.id, "platform": platform, "flavor": flavor,
            "path": str(target), "bytes": size}


def _iteration(iterations: list[Any], wanted: str | None, publish_name: str) -> Any:
    if wanted:
        iteration = find_iteration(iterations, wanted)
    else:
        iteration = published_under(iterations, publish_name)
        if iteration is None:
            names = ", ".join(i.name for i in by_age(iterations)) or "none"
            raise PipelineError(f"nothing is published as {publish_name!r}: give --iteration NAME "
                                f"(iterations: {names})")
    if iteration.status != "Completed":
        raise ExportRefused(f"{iteration.name} is {iteration.status}, not Completed: only a trained iteration "
                            "exports")
    return iteration


def _check_exportable(trainer: Any, iteration: Any, platform: str) -> None:
    if getattr(iteration, "exportable", None) is False:
        domain = next((d.name for d in trainer.get_domains() if d.id == iteration.domain_id), iteration.domain_id)
        raise ExportRefused(
            f"{iteration.name} was trained on domain {domain!r}, which cannot export: only compact domains do "
            "(e.g. 'General (compact)'). Set `project.domain: General (compact)` and "
            "`project.allow_domain_change: true`: `cvops plan` shows the move, `cvops run` moves the project "
            "and trains an iteration that exports")
    platforms = getattr(iteration, "exportable_to", None)
    if platforms and platform not in platforms:
        raise ExportRefused(f"{iteration.name} exports to {', '.join(platforms)}, not {platform}: "
                            f"use --platform {platforms[0]}")


def _finished_export(trainer: Any, project_id: str, iteration: Any, platform: str, flavor: str | None,
                     ui: Progress, sleep) -> Any:
    """The iteration's Done export for the platform (and flavor): an existing one, or a new one waited for."""
    current = _matching(trainer.get_exports(project_id, iteration.id), platform, flavor)
    if current is None or current.status == "Failed" or getattr(current, "newer_version_available", False):
        try:
            trainer.export_iteration(project_id, iteration.id, platform, flavor=flavor)
        except HttpOperationError as exc:
            if error_code(exc) != IN_PROGRESS:
                raise
    deadline = time.monotonic() + EXPORT_TIMEOUT_S
    interval = 0.5
    with ui.spinner(f"exporting {iteration.name} to {platform} ...") as spinner:
        while True:
            current = _matching(trainer.get_exports(project_id, iteration.id), platform, flavor)
            status = current.status if current is not None else "Exporting"
            if status == "Done" and current.download_uri:
                return current
            if status == "Failed":
                raise ServiceError(f"the export of {iteration.name} to {platform} failed on the service")
            if time.monotonic() > deadline:
                raise ServiceError(f"the export of {iteration.name} to {platform} is still {status} after "
                                   f"{EXPORT_TIMEOUT_S / 60:.0f} minutes: run export-model again later")
            spinner.update(f"exporting {iteration.name} to {platform}: {status}")
            sleep(interval)
            interval = min(interval * 1.5, 10.0)


def _matching(exports: list[Any], platform: str, flavor: str | None) -> Any | None:
    """The export of that platform and flavor (names in any letter case: the service answers in Azure's)."""
    return next((e for e in exports or [] if (e.platform or "").lower() == platform.lower()
                 and (e.flavor or "").lower() == (flavor or "").lower()), None)


def _file_name(project: str, iteration: str, platform: str, flavor: str | None) -> str:
    safe = lambda text: re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")  # noqa: E731
    return "-".join(safe(part) for part in (project, iteration, platform, flavor or "") if part) + ".zip"


def _download(uri: str, target: Path, ui: Progress) -> int:
    """Stream the package to `target` (through a temporary file beside it); a few tries on lost connections."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
        fd, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(uri, timeout=DOWNLOAD_TIMEOUT_S) as response:
                total = int(response.headers.get("Content-Length") or 0)
                with ui.bar(f"downloading {target.name}", total, log_every=max(1, total // 5)) as bar:
                    size = 0
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
                        size += len(chunk)
                        bar.advance(len(chunk))
            os.replace(partial, target)
            return size
        except urllib.error.HTTPError as exc:
            raise ServiceError(f"downloading the export failed: HTTP {exc.code} {exc.reason} (the link may have "
                               "expired: run export-model again)") from None
        except (urllib.error.URLError, OSError) as exc:
            if attempt == DOWNLOAD_ATTEMPTS:
                raise ServiceError(f"downloading the export failed after {attempt} attempts: "
                                   f"{getattr(exc, 'reason', exc)}") from None
            ui.info(f"download: retrying {attempt + 1}/{DOWNLOAD_ATTEMPTS} ({getattr(exc, 'reason', exc)})")
        finally:
            Path(partial).unlink(missing_ok=True)
    raise AssertionError("unreachable")
