"""Exporting a trained iteration: what may be exported, and starting the export.

`export_iteration` checks the platform and flavor (Azure's names, any letter case: training/platforms.py), the
iteration's domain and, for platforms built with a converter from the optional extra, that the converter is
installed; then records the export as `Exporting` and hands it to the export worker (exports/worker.py), which
builds the package in the background (exports/packages.py) and marks it `Done`, as Azure's export does.
Object detection iterations export their detector in Azure's object detection layout (ONNX and DockerFile:
training/detection_export.py, exports/packages.py).
"""
from __future__ import annotations

import secrets

from .. import errors
from ..exports.worker import STALE_AFTER_S, ExportWorker
from ..store import Store
from ..store.records import ExportRecord, IterationRecord
from .domains import get_domain
from .platforms import (AZURE_FLAVORS, CONVERTER, DETECTION_EXPORTS, EXTRA, azure_flavor, azure_platform, exports_for,
                        installed)

REFUSED = "BadRequestExportValidationFailed"


def check_exportable(iteration: IterationRecord, platform: str, flavor: str | None) -> tuple[str, str | None]:
    """(platform, flavor) in Azure's spelling, when the iteration can be exported so; a 400 with Azure's code
    and what to do instead otherwise."""
    asked_platform, asked_flavor = platform, flavor
    domain = get_domain(iteration.domain_id)
    builds = exports_for(domain.type)  # platform -> the flavors it takes, for this kind of model
    platform = azure_platform(platform)
    if platform is None:
        raise errors.bad_request(f"'{asked_platform}' is not an export platform; use one of "
                                 f"{', '.join(builds)}.", REFUSED)
    try:
        flavor = azure_flavor(platform, flavor)
    except LookupError:
        others = [p for p, flavors in AZURE_FLAVORS.items() if any(f.lower() == asked_flavor.lower()
                                                                     for f in flavors)]
        belongs = f" ('{asked_flavor}' is a flavor of {others[0]})" if others else ""
        raise errors.bad_request(f"'{asked_flavor}' is not a flavor of {platform}{belongs}; "
                                 f"{_takes(platform, builds)}", REFUSED) from None
    if platform not in builds or flavor not in builds[platform]:
        what = f"{platform} ({flavor})" if flavor else platform
        raise errors.bad_request(f"Export to {what} is not supported by this service; {_takes(platform, builds)}",
                                 REFUSED)
    if not domain.exportable:
        raise errors.bad_request(f"{iteration.name} was trained on a domain that cannot be exported; use a compact "
                                 "domain.", REFUSED)
    if not installed(CONVERTER[platform]):
        raise errors.bad_request(f"Export to {platform} needs the converters of the exports extra, which this "
                                 f"service does not have: {EXTRA}.", REFUSED)
    return platform, flavor


def _takes(platform: str, builds: dict[str, tuple[str | None, ...]]) -> str:
    flavors = builds.get(platform)
    if not flavors:
        kind = "an object detection iteration" if builds is DETECTION_EXPORTS else "an iteration"
        return f"this service exports {kind} to {', '.join(builds)}."
    named = ", ".join(f for f in flavors if f)
    return f"{platform} takes flavor {named} (or none)." if named else f"{platform} takes no flavor."


class Exporter:
    def __init__(self, store: Store, link_lifetime_s: float, worker: ExportWorker | None = None):
        self.store = store
        self.link_lifetime_s = link_lifetime_s
        self.worker = worker or ExportWorker(store, link_lifetime_s)

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()

    def export(self, iteration: IterationRecord, platform: str, flavor: str | None) -> ExportRecord:
        """The export, `Exporting`, behind an unguessable link that works once it is `Done`."""
        platform, flavor = check_exportable(iteration, platform, flavor)
        export = self.store.start_export(iteration.id, platform, flavor, secrets.token_urlsafe(32),
                                         self.link_lifetime_s, STALE_AFTER_S)
        self.worker.submit(export)
        return export

    def exports(self, iteration_id: str) -> list[ExportRecord]:
        return self.store.exports(iteration_id, STALE_AFTER_S)
