"""A throwaway PostgreSQL cluster on loopback: `initdb` and `pg_ctl` in a temp folder, stopped and removed after.

PostgreSQL refuses to run as root, so when the harness runs as root the cluster's folder is handed to an
unprivileged account (`postgres`, which Debian's package creates, else `nobody`) and the server runs as it.
Authentication is `trust` on 127.0.0.1 only, durability is off (fsync): the cluster lives as long as a test run.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.engines import EngineMissing
from harness.process import free_port

SUPERUSER = "cvlocal"


def find_binaries() -> Path:
    """The folder of initdb and pg_ctl: $PG_BIN, then PATH, then Debian's /usr/lib/postgresql/N/bin."""
    candidates = [os.environ.get("PG_BIN", "")]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(os.path.realpath(initdb)).parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in filter(None, candidates):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    raise EngineMissing("PostgreSQL's initdb and pg_ctl were not found: install Debian's postgresql package "
                        "(.ci/run does), or set PG_BIN to the folder that holds them")


def _server_user() -> str | None:
    """The account to run the server as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise EngineMissing("running as root with no unprivileged account (postgres, nobody) to run PostgreSQL as")


class PostgresCluster:
    """`with PostgresCluster() as pg: pg.create_database("a")` -> postgresql://cvlocal@127.0.0.1:PORT/a"""

    name = "postgresql"

    def __init__(self, port: int | None = None):
        self.bin = find_binaries()
        self.user = _server_user()
        self.port = port or free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="cvops-pg-"))
        self.data = self.folder / "data"

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _command(self, program: str, *args: str) -> list[str]:
        command = [str(self.bin / program), *args]
        return ["runuser", "-u", self.user, "--", *command] if self.user else command

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(self._command(program, *args), capture_output=True, text=True)
        if done.returncode != 0:
            raise EngineMissing(f"{program} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-500:]}")

    def start(self) -> "PostgresCluster":
        sockets = self.folder / "sockets"
        sockets.mkdir(parents=True, exist_ok=True)
        if self.user:
            account = pwd.getpwnam(self.user)
            for path in (self.folder, sockets):
                os.chown(path, account.pw_uid, account.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--no-sync", "-E", "UTF8",
                  "--locale=C")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={sockets} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"), "-w",
                  "-t", "60", "start")
        return self

    def create_database(self, database: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        return self.database_url(database)

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(self._command("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"),
                           capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "PostgresCluster":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
