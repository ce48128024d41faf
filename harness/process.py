"""A server run as a child process on a free loopback port, for as long as a test, a benchmark or the demo needs
it: `start` waits until it answers, `stop` asks it to end (SIGTERM) and kills it if it will not. Its output goes
to a log file, appended across restarts. The child gets a session of its own, so Ctrl-C reaches the caller,
which stops it in order."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChildProcess:
    """Subclasses say what to run (`command`), what the child adds to the environment (`child_env`), where
    its output goes (`log_path`) and how to tell it serves (`is_ready`)."""

    name = "server"
    log_path: Path
    process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def child_env(self) -> dict[str, str]:
        return {}

    def is_ready(self) -> bool:
        """One probe: True once the server answers."""
        raise NotImplementedError

    def start(self, timeout: float = 180.0):
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                            env={**os.environ, **self.child_env()}, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; its log "
                                   f"({self.log_path}):\n{self.log()}")
            if self.is_ready():
                return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.name} did not answer within {timeout:g} s; its log ({self.log_path}):\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """kill -9: no chance to clean up, as in a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self):
        self.stop()
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
