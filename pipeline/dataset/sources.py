"""Where a dataset is: `dataset.path` as given, or a zip archive (`dataset: {url, sha256}`) downloaded once into
a cache, checked against the SHA-256 the config names, and extracted there safely (later runs reuse the
extracted folder), or an Azure Blob Storage container mirrored into the cache (container.py). Every source ends
as a local folder (or manifest) for scan.py."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from pipeline.config import DatasetConfig
from pipeline.errors import DatasetError

TIMEOUT_S = 60
MAX_EXTRACTED_BYTES = 20 * 1024**3  # a Custom Vision project holds at most 100,000 images of 6 MB


def cache_root(config: DatasetConfig) -> Path:
    if config.cache_dir is not None:
        return Path(config.cache_dir)
    return Path(os.environ.get("CVOPS_CACHE") or Path.home() / ".cache" / "cvops") / "datasets"


def local_root(config: DatasetConfig, allow_download: bool = True) -> Path | None:
    """The folder (or manifest) to scan: `path` as given, or the extracted archive's `subfolder`.

    None when the archive is not in the cache yet and downloading is not allowed (`cvops validate`), and for a
    blob container offline (its blobs may have changed since the last run)."""
    if config.container is not None:
        from pipeline.dataset.container import check_account_url, mirror
        check_account_url(config.account_url)
        return mirror(config, cache_root(config)) if allow_download else None
    if config.url is None:
        return Path(config.path)
    sha = config.sha256.lower()
    extracted = cache_root(config) / sha
    if not extracted.is_dir():
        if not allow_download:
            return None
        archive = download(config.url, sha, cache_root(config))
        extract(archive, extracted)
    target = extracted / config.subfolder if config.subfolder else extracted
    if not target.exists():
        inside = ", ".join(sorted(p.name for p in extracted.iterdir())[:10])
        raise DatasetError(f"the archive from {config.url} has no {config.subfolder!r}; at its top: {inside}")
    return target


def write_atomically(path: Path, data: bytes) -> None:
    """`path` holds `data` whole or not at all (written beside it, then renamed); a kill leaves a `.part-` file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)


def download(url: str, sha256: str, cache: Path) -> Path:
    """The archive in the cache, downloaded if missing; refused if its SHA-256 is not `sha256`."""
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / f"{sha256}.zip"
    if archive.is_file():
        return archive
    digest = hashlib.sha256()
    fd, partial = tempfile.mkstemp(dir=cache, prefix=".download-")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise DatasetError(f"the archive at {url} has SHA-256 {digest.hexdigest()}, not the {sha256} the "
                               "config names: it changed or is not the right file. Check it, then update "
                               "`dataset.sha256`.")
        os.replace(partial, archive)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DatasetError(f"could not download the dataset from {url}: {reason}. If this machine is offline, "
                           "download and extract the zip elsewhere, copy the folder here and set "
                           "`dataset.path` to it (instead of `dataset.url`).") from None
    finally:
        Path(partial).unlink(missing_ok=True)
    return archive


def extract(archive: Path, target: Path) -> None:
    """Unzip into `target` via a temporary folder, refusing paths that escape it and oversized archives."""
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".extract-"))
    try:
        with zipfile.ZipFile(archive) as zf:
            total = sum(info.file_size for info in zf.infolist())
            if total > MAX_EXTRACTED_BYTES:
                raise DatasetError(f"{archive.name} would extract to {total:,} bytes; that is too large")
            for info in zf.infolist():
                destination = (staging / info.filename).resolve()
                if not destination.is_relative_to(staging.resolve()):
                    raise DatasetError(f"{archive.name} holds a path outside the archive: {info.filename!r}")
            zf.extractall(staging)
        try:
            os.replace(staging, target)
        except OSError:
            if not target.is_dir():  # else another run extracted the same archive first: use theirs
                raise
    except zipfile.BadZipFile as exc:
        archive.unlink(missing_ok=True)
        raise DatasetError(f"{archive.name} is not a valid zip archive: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
