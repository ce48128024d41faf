"""`cvlocal serve` in cluster mode refuses what it cannot run with, says what to fix, never prints a password,
and writes nothing first (no keys generated, no data folder filled)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.process import free_port

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"CVLOCAL_TRAINING_KEY": "a" * 32, "CVLOCAL_PREDICTION_KEY": "b" * 32, "CVLOCAL_SIGNING_SECRET": "c" * 64}
UNREACHABLE = "postgresql://cvlocal:hunter2secret@127.0.0.1:1/cvlocal"  # nothing listens on port 1


def _clean(environ) -> dict[str, str]:
    return {k: v for k, v in environ.items() if not k.startswith(("CVLOCAL_", "AZURE_STORAGE_", "PG"))}


def serve(data_dir: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cvlocal", "serve", "--port", str(free_port()),
                           "--data-dir", str(data_dir), *args], cwd=ROOT, env={**_clean(os.environ), **env},
                          capture_output=True, text=True, timeout=90)


def serve_here(data_dir: Path, *args: str, env: dict[str, str], monkeypatch, capsys) -> tuple[int, str]:
    """`cvlocal serve` in this process (what it refuses, it refuses before it would serve): (exit code, output)."""
    from cvlocal.cli import main

    for name in set(os.environ) - set(_clean(os.environ)):
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--port", str(free_port()), "--data-dir", str(data_dir), *args])
    captured = capsys.readouterr()
    return exited.value.code, captured.out + captured.err


@pytest.mark.parametrize(("args", "env", "says"), [
    (["--database", UNREACHABLE], {}, "give --training-key or $CVLOCAL_TRAINING_KEY, --prediction-key or "
                                      "$CVLOCAL_PREDICTION_KEY, $CVLOCAL_SIGNING_SECRET"),
    (["--database", UNREACHABLE], {**KEYS, "CVLOCAL_SIGNING_SECRET": "abc"}, "at least 32 hex digits"),
    (["--database", UNREACHABLE], KEYS, "PostgreSQL at postgresql://cvlocal:***@127.0.0.1:1/cvlocal cannot be used"),
    (["--database", "mysql://root:hunter2secret@db/cv"], KEYS, "--database takes postgresql://"),
    (["--blobs", "azureblob://My_Account/images"], {}, "'My_Account' is not a storage account name"),
    (["--blobs", "azureblob://account1/Images"], {}, "'Images' is not a container name"),
    (["--blobs", "s3://bucket/images"], {}, "--blobs takes azureblob://ACCOUNT/CONTAINER"),
    (["--blobs", "azureblob://account1/images"],
     {"AZURE_STORAGE_CONNECTION_STRING": "AccountName=account2;AccountKey=eA==;EndpointSuffix=core.windows.net"},
     "is for the storage account 'account2', not 'account1'"),
    (["--training-workers", "0"], {}, "'0' is not a whole number from 1 to 64"),
])
def test_what_cannot_run_is_refused_with_what_to_fix(tmp_path, args, env, says, monkeypatch, capsys):
    data_dir = tmp_path / "data"
    code, output = serve_here(data_dir, *args, env=env, monkeypatch=monkeypatch, capsys=capsys)
    assert code not in (0, None) and says in output, output
    assert "hunter2secret" not in output
    assert not (data_dir / "keys.json").exists()  # nothing generated for a service that did not start


def test_the_command_exits_with_the_reason_and_no_password(tmp_path):
    done = serve(tmp_path / "data", "--database", UNREACHABLE, env=KEYS)
    assert done.returncode == 1 and "PostgreSQL at postgresql://cvlocal:***@127.0.0.1:1/cvlocal cannot be used" \
        in done.stderr, done.stderr
    assert "hunter2secret" not in done.stdout + done.stderr
    assert not (tmp_path / "data" / "keys.json").exists()
