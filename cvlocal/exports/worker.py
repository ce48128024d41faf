"""Exports in the background, as Azure builds them: `export_iteration` answers `Exporting` at once, a worker
builds the package and marks the export `Done` (or `Failed`).

The package is built in a process of its own (one, started by the first export and stopped after
`IDLE_S` without any), never in the service's: the converters (TensorFlow, OpenVINO, coremltools) take seconds and a gigabyte
or so to load, which the prediction path should not carry, and a converter that crashes takes that process
down, not the service (the export is marked `Failed` and the next one starts a new process), and the process
ends with the service, however the service ends (`_exit_with`). The worker's
thread reads what the export needs from the store, hands the process plain data (`ExportJob`), and stores
the zip it gets back. An export whose iteration is deleted meanwhile is dropped: its row went with the
iteration, and the package is never recorded (`cvlocal gc` removes its blob).
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ..store import Store
from ..store.records import ExportRecord
from ..training.domains import get_domain
from .packages import ExportJob, build

log = logging.getLogger("cvlocal.exports")
STALE_AFTER_S = 30 * 60.0  # an export still Exporting after this was lost with the process building it
BUILD_TIMEOUT_S = 20 * 60.0
IDLE_S = 10 * 60.0  # the builder process (and the converters it loaded, a gigabyte or so) goes after this idle


def _exit_with(service_pid: int) -> None:
    """In the builder process: end it when the service ends, however the service ended (kill -9 included), so a
    gigabyte of converters never outlives the service that loaded them."""
    def watch() -> None:
        while os.getppid() == service_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="cvlocal-exporter-watch", daemon=True).start()


class ExportWorker:
    def __init__(self, store: Store, link_lifetime_s: float, in_process: bool = False):
        """`in_process`: build in this process (tests of the worker itself); the service builds in its own."""
        self.store = store
        self.link_lifetime_s = link_lifetime_s
        self.in_process = in_process
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="cvlocal-exporter", daemon=True)
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        if self.store.claims is None:  # this process alone builds exports: any 'Exporting' row was cut short
            failed = self.store.fail_interrupted_exports()
            if failed:
                log.warning("marked %d export(s) interrupted by a restart as Failed", failed)
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._stop_builder()

    def submit(self, export: ExportRecord) -> None:
        self._queue.put(export.id)

    def _work(self) -> None:
        while True:
            try:
                export_id = self._queue.get(timeout=IDLE_S)
            except queue.Empty:
                self._stop_builder()
                continue
            if export_id is None:
                return
            try:
                self._export(export_id)
            except Exception:  # the export must end Failed, never stay Exporting
                log.exception("export %s failed", export_id)
                self.store.fail_export(export_id)

    def _stop_builder(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _export(self, export_id: str) -> None:
        job = self._job(export_id)
        if job is None:
            return  # deleted with its iteration, or replaced, meanwhile
        started = time.perf_counter()
        package = build(job) if self.in_process else self._build_elsewhere(job)
        digest = self.store.blobs.put(package)
        if self.store.finish_export(export_id, digest, self.link_lifetime_s):
            log.info("exported %s to %s%s in %.1f s (%d bytes)", job.iteration_id, job.platform,
                     f" ({job.flavor})" if job.flavor else "", time.perf_counter() - started, len(package))

    def _job(self, export_id: str) -> ExportJob | None:
        export = self.store.export(export_id)
        if export is None or export.status != "Exporting":
            return None
        iteration = self.store.iteration_by_id(export.iteration_id)
        if iteration is None or iteration.model_digest is None:
            return None
        return ExportJob(platform=export.platform, flavor=export.flavor, domain_id=iteration.domain_id,
                         project_id=iteration.project_id, iteration_id=iteration.id, tags=tuple(iteration.tags),
                         model=self.store.blobs.get(iteration.model_digest),
                         task=get_domain(iteration.domain_id).type)

    def _build_elsewhere(self, job: ExportJob) -> bytes:
        if self._pool is None:
            # spawn: a fresh interpreter, not a fork of a service with threads and open connections
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_exit_with, initargs=(os.getpid(),))
        try:
            return self._pool.submit(build, job).result(timeout=BUILD_TIMEOUT_S)
        except BrokenProcessPool:
            self._pool = None  # the process died (a converter crashed): the next export starts a new one
            raise
