"""Typed errors of the pipeline; the CLI turns each into one clear line and an exit code."""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_GATE_FAILED = 3


class PipelineError(Exception):
    """Anything that stops a command; `exit_code` says how the process ends."""

    exit_code = EXIT_FAILURE


class ConfigError(PipelineError):
    """A config that cannot be used: names the file and line and says what to fix."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.file, self.line, self.detail = file, line, message
        where = file or ""
        if file and line:
            where = f"{file}:{line}"
        super().__init__(f"{where}: {message}" if where else message)


class FieldError(ConfigError):
    """A config value found wrong while a command runs (e.g. a domain the service does not have): raised with
    the field's location, given its file and line by the CLI."""

    def __init__(self, loc: tuple[str | int, ...], message: str):
        super().__init__(f"{'.'.join(map(str, loc))}: {message}")
        self.loc, self.detail = loc, message


class DatasetError(PipelineError):
    """The dataset is refused before anything is uploaded."""

    exit_code = EXIT_BAD_INPUT


class InputError(PipelineError):
    """An argument names something that is not there or cannot be used (an iteration of another project, an
    iteration still training, a manifest edited by hand): nothing was done."""

    exit_code = EXIT_BAD_INPUT


class UploadError(PipelineError):
    """Some images were not accepted by the service; names each file and its status."""

    def __init__(self, message: str, failures: list[tuple[str, str]], input_problem: bool):
        super().__init__(message)
        self.failures = failures
        if input_problem:
            self.exit_code = EXIT_BAD_INPUT


class TrainingFailed(PipelineError):
    """An iteration ended `Failed` or did not finish in time."""


class GateFailed(PipelineError):
    """A quality gate failed: nothing was published."""

    exit_code = EXIT_GATE_FAILED


class ServiceError(PipelineError):
    """The service refused a call (after retries), with its Custom Vision error code."""

    def __init__(self, message: str, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.code, self.status = code, status


class MassDeleteRefused(PipelineError):
    """`dataset.sync: mirror` would delete more images than the safety limit allows: nothing was deleted."""

    exit_code = EXIT_BAD_INPUT
