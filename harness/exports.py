"""Waiting for an export through the official SDK: `export_iteration` answers `Exporting` (as Azure's does) and
`get_exports` says when it is `Done`."""
from __future__ import annotations

import time


def exported(trainer, project_id: str, iteration_id: str, platform: str, flavor: str | None = None,
             timeout: float = 300, **kwargs):
    """export_iteration, then the export as get_exports lists it once it is no longer Exporting."""
    started = trainer.export_iteration(project_id, iteration_id, platform, flavor=flavor, **kwargs)
    assert started.status == "Exporting", started.status
    return finished(trainer, project_id, iteration_id, started.platform, started.flavor, timeout, **kwargs)


def finished(trainer, project_id: str, iteration_id: str, platform: str, flavor: str | None = None,
             timeout: float = 300, **kwargs):
    deadline = time.monotonic() + timeout
    while True:
        export = next(e for e in trainer.get_exports(project_id, iteration_id, **kwargs)
                      if e.platform == platform and e.flavor == flavor)
        if export.status != "Exporting":
            return export
        assert time.monotonic() < deadline, f"the export to {platform} {flavor} is still Exporting"
        time.sleep(0.2)
