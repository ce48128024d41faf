"""What a person sees while a command runs: rich progress bars and spinners on a terminal; plain lines
otherwise (CI logs), enough to see it move: one a step of a bar (a batch of uploads), and a spinner's status
when it changes and every 10 s while it does not (a training). Everything goes to stderr, through the
redactor; results go to stdout."""
from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterator, TextIO

from pipeline.redact import redact


HEARTBEAT_S = 10.0  # on a log, a spinner's status is repeated this often while it does not change


class Progress:
    def __init__(self, stream: TextIO | None = None, tty: bool | None = None, quiet: bool = False,
                 heartbeat_s: float = HEARTBEAT_S):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.quiet = quiet
        self.heartbeat_s = heartbeat_s
        self._rich = None
        if self.tty and not quiet:
            from rich.console import Console
            self._rich = Console(file=self.stream, highlight=False)

    def info(self, message: str) -> None:
        """One line of progress (skipped with --quiet)."""
        if not self.quiet:
            self._write(message)

    def warn(self, message: str) -> None:
        self._write(f"warning: {message}")

    def _write(self, message: str) -> None:
        message = redact(message)
        if self._rich is not None:
            self._rich.print(message, markup=False)
        else:
            print(message, file=self.stream, flush=True)

    @contextmanager
    def bar(self, description: str, total: int, log_every: int = 1) -> Iterator["_Bar"]:
        """A progress bar on a terminal; on a log, a line at the start and one a step (`advance` call), or one
        each `log_every` done (bytes of a download)."""
        if self._rich is None or total <= 0:
            if total > 0:
                self.info(f"{description}: {total} ...")
            yield _Bar(None, None, self, description, total, log_every)
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, \
            TimeElapsedColumn
        with RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=self._rich, transient=True) as rich_progress:
            yield _Bar(rich_progress, rich_progress.add_task(description, total=total))

    @contextmanager
    def spinner(self, message: str) -> Iterator["_Spinner"]:
        """A spinner with a changing status on a terminal; on a log, a line when the status changes and the
        status again every `heartbeat_s` while it does not."""
        if self._rich is None:
            spinner = _Spinner(None, self)
            self.info(message)
            spinner.beat(message, self.heartbeat_s)
            try:
                yield spinner
            finally:
                spinner.stop()
            return
        with self._rich.status(redact(message)) as status:
            yield _Spinner(status, self)


class _Bar:
    def __init__(self, progress, task, owner: Progress | None = None, description: str = "", total: int = 0,
                 log_every: int = 1):
        self._progress, self._task = progress, task
        self._owner, self._description, self._total, self._done = owner, description, total, 0
        self._log_every, self._logged = max(1, log_every), 0

    def advance(self, n: int = 1) -> None:
        """`n` more done: the bar moves on a terminal; a log gets a line ("uploading images: 64/2640")."""
        self._done += n
        if self._progress is not None:
            self._progress.advance(self._task, n)
        elif self._owner is not None and self._total > 0 and (
                self._done - self._logged >= self._log_every or self._done >= self._total):
            self._logged = self._done
            self._owner.info(f"{self._description}: {self._done}/{self._total}")


class _Spinner:
    def __init__(self, status, owner: Progress):
        self._status, self._owner, self._last = status, owner, None
        self._started = time.monotonic()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._message = ""

    def update(self, message: str, detail: str = "") -> None:
        """`detail` (e.g. seconds elapsed) shows on a terminal; a log gets a line when `message` changes (the
        heartbeat repeats it with the time elapsed)."""
        if self._status is not None:
            self._status.update(redact(f"{message} {detail}".strip()))
        elif message != self._last:
            self._owner.info(message)
        with self._lock:
            self._last = self._message = message

    def beat(self, message: str, every_s: float) -> None:
        """On a log: repeat the latest status every `every_s` seconds until `stop` (CI shows it is alive)."""
        self._message = message
        if every_s <= 0 or self._owner.quiet:
            return

        def heartbeat() -> None:
            while not self._stopped.wait(every_s):
                with self._lock:
                    message = self._message
                self._owner.info(f"{message} ({time.monotonic() - self._started:.0f} s)")
        threading.Thread(target=heartbeat, name="cvops-heartbeat", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()


class Stopwatch:
    """Seconds spent per step, for the report."""

    def __init__(self):
        self.timings: dict[str, float] = {}
        self._start = time.monotonic()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0) + time.monotonic() - start, 3)

    @property
    def total(self) -> float:
        return round(time.monotonic() - self._start, 3)
