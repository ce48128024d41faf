"""What a person sees while a command runs: rich progress bars and spinners on a terminal, a few plain
lines otherwise (CI logs). Everything goes to stderr, through the redactor; results go to stdout."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator, TextIO

from pipeline.redact import redact


class Progress:
    def __init__(self, stream: TextIO | None = None, tty: bool | None = None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.quiet = quiet
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
    def bar(self, description: str, total: int) -> Iterator["_Bar"]:
        """A progress bar on a terminal; on a log, one line at the start and none per step."""
        if self._rich is None or total <= 0:
            if total > 0:
                self.info(f"{description}: {total} ...")
            yield _Bar(None, None)
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, \
            TimeElapsedColumn
        with RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=self._rich, transient=True) as rich_progress:
            yield _Bar(rich_progress, rich_progress.add_task(description, total=total))

    @contextmanager
    def spinner(self, message: str) -> Iterator["_Spinner"]:
        """A spinner with a changing status on a terminal; plain lines only when the status changes."""
        if self._rich is None:
            spinner = _Spinner(None, self)
            self.info(message)
            yield spinner
            return
        with self._rich.status(redact(message)) as status:
            yield _Spinner(status, self)


class _Bar:
    def __init__(self, progress, task):
        self._progress, self._task = progress, task

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)


class _Spinner:
    def __init__(self, status, owner: Progress):
        self._status, self._owner, self._last = status, owner, None

    def update(self, message: str, detail: str = "") -> None:
        """`detail` (e.g. seconds elapsed) shows on a terminal only, so logs get a line per real change."""
        if self._status is not None:
            self._status.update(redact(f"{message} {detail}".strip()))
        elif message != self._last:
            self._owner.info(message)
        self._last = message


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
