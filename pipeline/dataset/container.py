"""A dataset in an Azure Blob Storage container (`dataset: {container, prefix}`), mirrored into a local folder
that scan.py reads like any other: one folder per tag below the prefix, a manifest blob and the blobs it
names, or images each beside an IMAGE.labels blob (Microsoft's Custom Vision Autotrainer keeps them so). Each run lists the blobs and downloads only those whose ETag changed since the last run; blobs gone from
the container are removed from the mirror.

The credential never comes from the config: AZURE_STORAGE_CONNECTION_STRING (account key or SAS inside), or
AZURE_STORAGE_SAS_TOKEN with `dataset.account_url`, or azure-identity's DefaultAzureCredential with
`dataset.account_url` (az login, managed identity, GitHub OIDC; role Storage Blob Data Reader)."""
from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

from pipeline.config import DatasetConfig
from pipeline.dataset.scan import listing, looks_like_image, manifest_paths
from pipeline.dataset.sources import write_atomically
from pipeline.errors import ConfigError, DatasetError
from pipeline.redact import register_secret

CONNECTION_STRING = "AZURE_STORAGE_CONNECTION_STRING"
SAS_TOKEN = "AZURE_STORAGE_SAS_TOKEN"
INDEX = ".cvops-blobs.json"  # blob name -> ETag of the copy in the mirror
LABELS = ".labels"
LABELS_MANIFEST = ".cvops-labels.json"  # layout label-files: what the .labels blobs say, as a manifest
WORKERS = 8


def check_account_url(account_url: str | None, field: str = "dataset.account_url") -> None:
    """A SAS token belongs in the environment, never in a config or on a command line (checked offline too)."""
    if account_url and "?" in account_url:
        raise ConfigError(f"{field}: holds a query string (a SAS token?); put the token in {SAS_TOKEN} "
                          "instead, never in the config or on the command line")


def storage_client(account_url: str | None, field: str = "dataset.account_url") -> Any:
    """A BlobServiceClient with the credential from the environment (see the module's docstring)."""
    from azure.storage.blob import BlobServiceClient, ExponentialRetry

    check_account_url(account_url, field)
    # Fail in seconds, not minutes, when the account cannot be reached (the SDK's default waits 15 s, 45 s, ...).
    options = {"retry_policy": ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=3),
               "connection_timeout": 20}
    connection_string = os.environ.get(CONNECTION_STRING)
    if connection_string:
        register_secret(connection_string)
        for part in connection_string.split(";"):
            name, _, value = part.partition("=")
            if name.strip().lower() in ("accountkey", "sharedaccesssignature"):
                register_secret(value)
        try:
            return BlobServiceClient.from_connection_string(connection_string, **options)
        except ValueError:
            raise ConfigError(f"{CONNECTION_STRING} is not a valid storage connection string "
                              "(DefaultEndpointsProtocol=...;AccountName=...;AccountKey=... or ...;SharedAccessSignature=...)"
                              ) from None
    if not account_url:
        raise ConfigError(f"{field}: not set; name the blob endpoint (https://ACCOUNT.blob.core.windows.net), or "
                          f"set {CONNECTION_STRING}")
    sas = os.environ.get(SAS_TOKEN)
    if sas:
        register_secret(sas.lstrip("?"))
        return BlobServiceClient(account_url, credential=sas.lstrip("?"), **options)
    if not account_url.startswith("https://"):
        raise ConfigError(f"{field}: signing in with DefaultAzureCredential needs an https:// endpoint; for an "
                          f"emulator such as Azurite, set {CONNECTION_STRING}")
    from pipeline.sdk.credentials import azure_credential  # in GitHub Actions: the job's OIDC token, renewed
    return BlobServiceClient(account_url, credential=azure_credential(), **options)


def storage_failure(exc: BaseException, container: str, account: str) -> DatasetError | None:
    """One clear line for what the storage service (or the sign-in) refused; None for anything else."""
    from azure.core.exceptions import (ClientAuthenticationError, HttpResponseError, ResourceNotFoundError,
                                       ServiceRequestError)

    code = getattr(exc, "error_code", None)
    if isinstance(exc, ResourceNotFoundError) and code in (None, "ContainerNotFound"):
        return DatasetError(f"no container {container!r} in the storage account at {account}: create it, or "
                            "fix dataset.container")
    if isinstance(exc, ClientAuthenticationError) or getattr(exc, "status_code", None) in (401, 403):
        status = getattr(exc, "status_code", None)
        refused = f"HTTP {status}{' ' + code if code else ''}" if status else str(exc).splitlines()[0][:200]
        return DatasetError(f"the storage account at {account} refused the credential ({refused}): check "
                            f"{CONNECTION_STRING} or {SAS_TOKEN}, or, signed in with DefaultAzureCredential, the "
                            f"role Storage Blob Data Reader on container {container!r}")
    if isinstance(exc, ServiceRequestError):
        return DatasetError(f"cannot reach the storage account at {account}: {str(exc).splitlines()[0][:200]}")
    if isinstance(exc, HttpResponseError):
        return DatasetError(f"the storage account at {account} answered HTTP {exc.status_code} "
                            f"{code or ''} for container {container!r}".rstrip())
    return None


def mirror(config: DatasetConfig, cache: Path) -> Path:
    """The local copy of the dataset: the folder of tag folders (folder-per-tag), or the manifest file."""
    service = storage_client(config.account_url)
    account = service.url.split("?")[0]
    container = service.get_container_client(config.container)
    folder = cache / "blobs" / hashlib.sha256(f"{account}|{config.container}|{config.prefix}".encode()).hexdigest()[:20]
    try:
        if config.layout == "manifest":
            return _mirror_manifest(container, config, folder)
        if config.layout == "label-files":
            return _mirror_label_files(container, config, folder)
        return _mirror_folders(container, config, folder)
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - the storage SDK's and azure-identity's errors, classified here
        error = storage_failure(exc, config.container, account)
        if error is None:
            raise
        raise error from None


def _mirror_folders(container: Any, config: DatasetConfig, folder: Path) -> Path:
    prefix = config.prefix.strip("/") + "/" if config.prefix.strip("/") else ""
    wanted: dict[str, tuple[str, str]] = {}
    for blob in container.list_blobs(name_starts_with=prefix or None, include=["metadata"]):
        relative = PurePosixPath(blob.name[len(prefix):])
        if len(relative.parts) < 2 or any(part.startswith(".") for part in relative.parts):
            continue  # beside the tag folders (a manifest, a README), or hidden
        if (blob.metadata or {}).get("hdi_isfolder") == "true":
            continue  # a directory marker of a hierarchical namespace
        wanted[str(relative)] = (blob.name, blob.etag)
    if not wanted:
        raise DatasetError(f"no blobs in tag folders below {prefix or 'the top'} of container "
                           f"{config.container!r}: expected {prefix}TAG/IMAGE")
    _sync(container, wanted, folder)
    return folder


def _mirror_label_files(container: Any, config: DatasetConfig, folder: Path) -> Path:
    """The layout of Microsoft's Custom Vision Autotrainer: IMAGE and IMAGE.labels (one tag a line) side by side;
    an image without a .labels blob is untagged. The mirror gets a manifest of what the label files say."""
    prefix = config.prefix.strip("/") + "/" if config.prefix.strip("/") else ""
    listed = {blob.name[len(prefix):]: (blob.name, blob.etag)
              for blob in container.list_blobs(name_starts_with=prefix or None)
              if not any(part.startswith(".") for part in PurePosixPath(blob.name[len(prefix):]).parts)}
    images = sorted(name for name in listed if not name.endswith(LABELS))
    if not images:
        raise DatasetError(f"no image blobs below {prefix or 'the top'} of container {config.container!r}")
    labels = {name + LABELS for name in images if name + LABELS in listed}
    _sync(container, {name: listed[name] for name in [*images, *labels]}, folder, not_images=labels)
    entries = [{"path": name, "tags": [line.strip() for line in (folder / (name + LABELS)).read_text(
        encoding="utf-8").splitlines() if line.strip()] if name + LABELS in labels else []} for name in images]
    manifest = folder / LABELS_MANIFEST
    manifest.write_text(json.dumps({"images": entries}))
    return manifest


def _mirror_manifest(container: Any, config: DatasetConfig, folder: Path) -> Path:
    name = config.prefix.strip("/")
    if not name:
        raise ConfigError("dataset.prefix: with layout manifest, name the manifest blob (e.g. exports/manifest.json)")
    base = str(PurePosixPath(name).parent)
    base = "" if base == "." else base + "/"
    listed = {blob.name: blob.etag for blob in container.list_blobs(name_starts_with=base or None)}
    if name not in listed:
        raise DatasetError(f"no manifest blob {name!r} in container {config.container!r}")
    manifest = PurePosixPath(name).name
    _sync(container, {manifest: (name, listed[name])}, folder, images=False, prune=False)
    wanted, missing = {manifest: (name, listed[name])}, []
    root = folder.resolve()
    for path in manifest_paths(folder / manifest):
        if not path.resolve().is_relative_to(root):
            raise DatasetError(f"{name}: names a path outside the manifest's folder: {path}")
        relative = path.resolve().relative_to(root).as_posix()
        if base + relative in listed:
            wanted[relative] = (base + relative, listed[base + relative])
        else:
            missing.append(f"{config.container}/{base}{relative}: no such blob (named in {name})")
    if missing:
        raise DatasetError(listing("the manifest names blobs that are not in the container", missing))
    _sync(container, wanted, folder, not_images={manifest})
    return folder / manifest


def _sync(container: Any, wanted: dict[str, tuple[str, str]], folder: Path, images: bool = True,
          prune: bool = True, not_images: set[str] = frozenset()) -> None:
    """Make `folder` hold `wanted` (local relative name -> (blob name, ETag)), downloading only the blobs whose
    ETag differs from the copy's; every image blob is checked to be an image. `prune` removes the rest."""
    folder.mkdir(parents=True, exist_ok=True)
    index_path = folder / INDEX
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        index = {}
    stale = [relative for relative, (_, etag) in wanted.items()
             if index.get(relative) != etag or not (folder / relative).is_file()]

    def fetch(relative: str) -> str | None:
        blob_name = wanted[relative][0]
        data = container.download_blob(blob_name).readall()
        where = f"{container.container_name}/{blob_name}"
        if images and relative not in not_images:
            if not data:
                return f"{where}: empty blob"
            if not looks_like_image(data[:8]):
                return f"{where}: not a JPEG, PNG, BMP or GIF image"
        write_atomically(folder / relative, data)
        return None

    problems: list[str] = []
    with ThreadPoolExecutor(WORKERS) as pool:
        for relative, problem in zip(stale, pool.map(fetch, stale)):
            if problem:
                problems.append(problem)
                index.pop(relative, None)
            else:
                index[relative] = wanted[relative][1]
    if prune:
        for path in [p for p in folder.rglob("*") if p.is_file()]:
            relative = path.relative_to(folder).as_posix()
            if relative not in (INDEX, LABELS_MANIFEST) and relative not in wanted:
                path.unlink()
                index.pop(relative, None)
    index_path.write_text(json.dumps(index, indent=0, sort_keys=True))
    if problems:
        raise DatasetError(listing("the container holds blobs that are not images (remove them, or move them "
                                   "out of the tag folders)", problems))
