"""Azurite, Microsoft's Azure Storage emulator (npm `azurite`), blob service only, on a free loopback port.

Installed on first use into `.engines/azurite/` in the project (or $CVOPS_ENGINES) at a pinned version that runs
on Node.js 20; each run gets its own workspace folder, removed after.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from harness.engines import EngineMissing
from harness.process import ChildProcess, free_port

VERSION = "3.35.0"
ACCOUNT = "devstoreaccount1"
# Azurite's published development account key, the same in every Azurite: not a secret.
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def install_folder() -> Path:
    return Path(os.environ.get("CVOPS_ENGINES") or PROJECT_ROOT / ".engines") / "azurite"


def ensure_installed() -> Path:
    """The blob service's entry script, installing the pinned Azurite with npm when it is missing."""
    folder = install_folder()
    script = folder / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
    if script.exists():
        return script
    if not shutil.which("node") or not shutil.which("npm"):
        raise EngineMissing("Azurite needs Node.js 20+ and npm (Debian: apt-get install nodejs npm)")
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(folder),
                           f"azurite@{VERSION}"], capture_output=True, text=True)
    if done.returncode != 0 or not script.exists():
        raise EngineMissing(f"npm could not install azurite@{VERSION}: {(done.stderr or done.stdout).strip()[-300:]}")
    return script


class Azurite(ChildProcess):
    """`with Azurite() as azurite: BlobServiceClient.from_connection_string(azurite.connection_string)`"""

    name = "azurite"

    def __init__(self, port: int | None = None):
        self.script = ensure_installed()
        self.port = port or free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="cvops-azurite-"))
        self.log_path = self.folder / "azurite.log"

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"BlobEndpoint={self.blob_endpoint};")

    def command(self) -> list[str]:
        return ["node", str(self.script), "--blobHost", "127.0.0.1", "--blobPort", str(self.port),
                "--location", str(self.folder / "data"), "--disableTelemetry", "--skipApiVersionCheck", "--silent"]

    def is_ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.folder, ignore_errors=True)
