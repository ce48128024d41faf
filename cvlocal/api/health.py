"""`/health` (liveness: the process answers) and `/ready` (readiness: it can serve Custom Vision requests now).

Both answer without a key, outside the Custom Vision routes, for load balancers, orchestrators and scripts.
`/ready` answers 503 with the reason while any check fails: the store does not answer (its database or its
blobs: `Store.ping`), the backbone graph is not built yet, or the data directory cannot be written (in cluster
mode there is none: the database and the blob container are the store's).

The backbone graph is built on first need (a few seconds): by the first training or prediction, or by the first
`/ready`, which starts the build in the background and answers "building" until it is done, so that traffic a
load balancer sends once `/ready` passes does not wait for it. It is not built at start, so a service that is
neither probed nor used (a test's, a CI job's) spends no CPU on it, and one behind a probe builds it at once.
"""
from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ..model.backbone import BACKBONE_NAME, get_backbone
from ..settings import service_version
from ..store import Store

log = logging.getLogger("cvlocal")
router = APIRouter(tags=["operations"])
OK = "ok"


class Readiness:
    """Answers what `/ready` reports; builds the backbone in the background when first asked."""

    def __init__(self, store: Store, data_dir: Path | None, backbone: str = BACKBONE_NAME):
        """`backbone`: the one to build (the service's precision's Lite0)."""
        self.store, self.data_dir, self.backbone_name = store, data_dir, backbone
        self._backbone = "building"
        self._thread = threading.Thread(target=self._build_backbone, name="cvlocal-backbone-build", daemon=True)
        self._started = threading.Lock()

    def start(self) -> None:
        """Start building the backbone (once); a backbone built already is found at once."""
        if self._started.acquire(blocking=False):
            self._thread.start()
            self._thread.join(0.05)

    def _build_backbone(self) -> None:
        try:
            get_backbone(self.backbone_name)
            self._backbone = OK
        except Exception as exc:  # reported by /ready; a request that needs it raises it again
            log.exception("building the backbone failed")
            self._backbone = f"the backbone could not be built: {type(exc).__name__}: {exc}"

    def checks(self) -> dict[str, str]:
        """Each check's result: "ok", or why it fails."""
        self.start()
        checks = {"store": self._store(), "backbone": self._backbone}
        if self.data_dir is not None:
            checks["dataDir"] = self._data_dir()
        return checks

    def _store(self) -> str:
        try:
            self.store.ping()
            return OK
        except Exception as exc:
            first_line = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""  # Azure's run on
            return f"the store does not answer: {type(exc).__name__}: {first_line}"

    def _data_dir(self) -> str:
        try:
            with tempfile.TemporaryFile(dir=self.data_dir, prefix=".ready-"):
                return OK
        except OSError as exc:
            return f"the data directory {self.data_dir} cannot be written: {exc.strerror or exc}"


@router.api_route("/health", methods=["GET", "HEAD"], summary="Liveness: the process answers")
def health():
    return {"status": "ok", "version": service_version()}


@router.api_route("/ready", methods=["GET", "HEAD"], summary="Readiness: the service can serve requests now",
                  responses={503: {"description": "not ready; `reason` says why"}})
def ready(request: Request):
    checks = request.app.state.readiness.checks()
    failing = [f"{name}: {result}" for name, result in checks.items() if result != OK]
    if failing:
        return JSONResponse({"status": "not ready", "reason": "; ".join(failing), "checks": checks}, status_code=503)
    return {"status": "ready", "checks": checks}
