"""Azure's naming rules for the global names docs/deploy.md creates by hand (infra/naming.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra.naming import BLOB_CONTAINER, KEY_VAULT, STORAGE_ACCOUNT, backend_names, key_vault_name, problems

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["cvopsstate", "abc", "a1b2c3d4e5f6g7h8i9j0k1l2"])
def test_storage_account_names_that_fit(name):
    assert STORAGE_ACCOUNT.problem(name) is None


@pytest.mark.parametrize("name, problem", [
    ("ab", "2 characters; storage account names take 3 to 24"),
    ("a" * 25, "25 characters"),
    ("cvops-state", "lowercase letters and digits only"),
    ("CvopsState", "lowercase letters and digits only"),
    ("microsoftstate", "reserves 'microsoft'"),
])
def test_storage_account_names_that_azure_refuses(name, problem):
    assert problem in (STORAGE_ACCOUNT.problem(name) or "")


@pytest.mark.parametrize("name", ["cvops-kv", "KV1", "a-b-c", "kv" + "x" * 22])
def test_key_vault_names_that_fit(name):
    assert KEY_VAULT.problem(name) is None


@pytest.mark.parametrize("name, problem", [
    ("kv", "2 characters; key vault names take 3 to 24"),
    ("1cvops-kv", "starting with a letter"),
    ("cvops-kv-", "ending with a letter or digit"),
    ("cvops--kv", "single hyphens"),
    ("cvops_kv", "letters, digits and single hyphens"),
    ("windows-kv", "reserves 'windows'"),
])
def test_key_vault_names_that_azure_refuses(name, problem):
    assert problem in (KEY_VAULT.problem(name) or "")


@pytest.mark.parametrize("name, ok", [
    ("pulumi-state", True), ("p1", False), ("Pulumi-state", False), ("pulumi--state", False),
    ("-pulumi", False), ("pulumi-", False),
])
def test_blob_container_names(name, ok):
    assert (BLOB_CONTAINER.problem(name) is None) is ok


def test_backend_url_and_secrets_provider_are_read_for_their_names():
    assert backend_names("azblob://pulumi-state?storage_account=cvopsstate") == ("pulumi-state", "cvopsstate")
    assert key_vault_name("azurekeyvault://cvops-kv.vault.azure.net/keys/pulumi") == "cvops-kv"
    with pytest.raises(ValueError, match="names no storage_account"):
        backend_names("azblob://pulumi-state")
    with pytest.raises(ValueError, match="is not azblob://"):
        backend_names("s3://bucket")
    with pytest.raises(ValueError, match="is not azurekeyvault://"):
        key_vault_name("azurekeyvault://cvops-kv.example.com/keys/pulumi")


def test_problems_lists_every_broken_name():
    found = problems(backend_url="azblob://Pulumi_State?storage_account=cvops-state",
                     secrets_provider="azurekeyvault://9kv.vault.azure.net/keys/pulumi")
    assert len(found) == 3
    assert any("blob container name 'Pulumi_State'" in p for p in found)
    assert any("storage account name 'cvops-state'" in p for p in found)
    assert any("key vault name '9kv'" in p for p in found)
    assert problems(backend_url="azblob://pulumi-state?storage_account=cvopsstate",
                    secrets_provider="azurekeyvault://cvops-kv.vault.azure.net/keys/pulumi") == []


def run_naming(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "infra.naming", *argv], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


def test_command_fails_with_exit_2_and_says_what_to_change():
    bad = run_naming("--storage-account", "cvops-state", "--key-vault", "cvops--kv")
    assert bad.returncode == 2
    assert "storage account name 'cvops-state' is not valid: storage account names take lowercase letters and digits only" in bad.stderr
    assert "key vault name 'cvops--kv' is not valid" in bad.stderr
    good = run_naming("--backend-url", "azblob://pulumi-state?storage_account=cvopsstate42",
                      "--secrets-provider", "azurekeyvault://cvops-kv-42.vault.azure.net/keys/pulumi")
    assert good.returncode == 0 and "fit Azure's rules" in good.stdout
