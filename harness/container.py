"""The repository's Dockerfile, built and run with podman on this machine, where no registry can be pulled from.

The Dockerfile starts `FROM python:3.11-slim-bookworm`. That base is made here from Debian packages instead:
`debootstrap` (bookworm, minbase, with python3 3.11 and pip), imported with `podman import` under the same
name, with `python` and `pip` where the official image has them. Then `podman build` builds the Dockerfile
unchanged (its pip installs come from PyPI) and the container runs like a replica of a cluster: on the
harness's PostgreSQL and Azurite, with `--network host` so loopback is shared.

What this machine needs, and why (docs/scale.md says what ran):
  runc, not crun      crun refuses this kernel's cgroup layout ("cgroups in hybrid mode not supported")
  lower rlimits       neither runtime may set a container's open-file and process limits to the host's own hard
                      limits here (EPERM without CAP_SYS_RESOURCE), so the container gets lower ones
  the host's CAs      this machine reaches PyPI through a TLS-inspecting proxy: the base image trusts the host's
                      CA bundle, or the image's pip installs fail certificate checks
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from harness.engines import EngineMissing
from harness.process import free_port
from harness.service import ServiceAddress, _key

ROOT = Path(__file__).resolve().parents[1]
BASE = "docker.io/library/python:3.11-slim-bookworm"  # the Dockerfile's FROM, made locally
IMAGE = "localhost/cvlocal:test"
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
RUN_OPTIONS = ["--runtime", "runc", "--network", "host", "--ulimit", "nofile=16384:16384",
               "--ulimit", "nproc=16384:16384"]
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _podman(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, **kwargs)


def _has_image(name: str) -> bool:
    return _podman("image", "exists", name).returncode == 0


def check_engine() -> None:
    """EngineMissing, with what to install, unless podman can run a container here."""
    for tool, package in (("podman", "podman"), ("runc", "runc"), ("debootstrap", "debootstrap")):
        if shutil.which(tool) is None:
            raise EngineMissing(f"{tool} is not installed: `apt-get install {package}` (make container-test needs "
                                "podman, runc and debootstrap; docs/scale.md)")


def build_base(log: Path) -> None:
    """The Dockerfile's base image from Debian packages (about 250 MB; kept in podman's store)."""
    if _has_image(BASE):
        return
    with tempfile.TemporaryDirectory(prefix="cvops-base-") as folder:
        rootfs = Path(folder) / "rootfs"
        with log.open("a") as out:
            done = subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,python3-pip,ca-certificates",
                                   "bookworm", str(rootfs), MIRROR], stdout=out, stderr=subprocess.STDOUT,
                                  timeout=1800)
        if done.returncode != 0:
            raise EngineMissing(f"debootstrap failed ({done.returncode}); see {log}")
        (rootfs / "usr/lib/python3.11/EXTERNALLY-MANAGED").unlink(missing_ok=True)  # a container's own Python
        (rootfs / "usr/local/bin/python").symlink_to("/usr/bin/python3")
        pip = rootfs / "usr/local/bin/pip"
        pip.write_text('#!/bin/sh\nexec python3 -m pip "$@"\n')
        pip.chmod(0o755)
        if HOST_CA_BUNDLE.exists():
            shutil.copyfile(HOST_CA_BUNDLE, rootfs / "etc/ssl/certs/ca-certificates.crt")
        for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(["podman", "import", "-", BASE], stdin=tar.stdout, capture_output=True, text=True,
                                  timeout=600)
        tar.wait()
        if imported.returncode != 0:
            raise EngineMissing(f"podman import failed: {imported.stderr.strip()[-300:]}")


def build_image(log: Path) -> None:
    """The repository's Dockerfile, unchanged (layers are cached: a rebuild redoes the project's layer only)."""
    with log.open("a") as out:
        done = subprocess.run(["podman", "build", *RUN_OPTIONS, "--pull=never", "-t", IMAGE, str(ROOT)],
                              stdout=out, stderr=subprocess.STDOUT, timeout=3600)
    if done.returncode != 0:
        raise EngineMissing(f"podman build of the Dockerfile failed ({done.returncode}); see {log}")


@dataclass
class ContainerReplica(ServiceAddress):
    """The image running as one replica of a cluster (`cvlocal serve --database ... --blobs ...`)."""

    database_url: str
    blobs_url: str
    blob_connection_string: str
    training_key: str = field(default_factory=_key)
    prediction_key: str = field(default_factory=_key)
    signing_secret: str = field(default_factory=lambda: _key() + _key())
    port: int = field(default_factory=free_port)
    name: str = field(default_factory=lambda: f"cvlocal-test-{_key()[:8]}")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 300.0) -> "ContainerReplica":
        environment = {"CVLOCAL_TRAINING_KEY": self.training_key, "CVLOCAL_PREDICTION_KEY": self.prediction_key,
                       "CVLOCAL_SIGNING_SECRET": self.signing_secret,
                       "AZURE_STORAGE_CONNECTION_STRING": self.blob_connection_string}
        # Values through the environment of `podman run` (`-e NAME` copies it), never on its command line.
        started = _podman("run", "-d", "--name", self.name, *RUN_OPTIONS,
                          *[part for name in environment for part in ("-e", name)], IMAGE,
                          "--port", str(self.port), "--database", self.database_url, "--blobs", self.blobs_url,
                          "--allow-private-urls", env={**os.environ, **environment})
        if started.returncode != 0:
            raise EngineMissing(f"podman run failed: {started.stderr.strip()[-300:]}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.endpoint}/ready", timeout=3) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                pass
            if _podman("container", "exists", self.name).returncode != 0 or "running" not in self.state():
                break
            time.sleep(1)
        raise RuntimeError(f"the container did not become ready in {timeout:.0f} s: {self.logs()[-800:]}")

    def state(self) -> str:
        return _podman("inspect", "--format", "{{.State.Status}}", self.name).stdout.strip()

    def logs(self) -> str:
        done = _podman("logs", self.name)
        return done.stdout + done.stderr

    def stop(self, grace_s: int = 40) -> int:
        """SIGTERM (the image's STOPSIGNAL), then the exit code."""
        _podman("stop", "-t", str(grace_s), self.name, timeout=grace_s + 30)
        code = _podman("inspect", "--format", "{{.State.ExitCode}}", self.name).stdout.strip()
        return int(code) if code.lstrip("-").isdigit() else -1

    def remove(self) -> None:
        _podman("rm", "-f", self.name)
