"""An export folder copied into an Azure Blob Storage container, below a prefix: the same layout, so the
container is a pipeline dataset too (`dataset: {container, prefix: PREFIX/images}` for a Multiclass project's
tag folders, or `prefix: PREFIX/manifest.json` with `layout: manifest`). A blob already there with the file's
size and MD5 is not sent again, so a rerun uploads only what changed. The credential comes from the
environment, as for a container dataset (pipeline/dataset/container.py)."""
from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pipeline.dataset.container import storage_client, storage_failure
from pipeline.errors import DatasetError

WORKERS = 8


def upload_folder(folder: Path, container_name: str, prefix: str, account_url: str | None, ui: Any) -> dict[str, Any]:
    """Copy every file of the export (not the journal) into the container; the container is made if missing."""
    from azure.storage.blob import ContentSettings

    service = storage_client(account_url, field="--account-url")
    account = service.url.split("?")[0]
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    try:
        container = service.get_container_client(container_name)
        if not container.exists():
            container.create_container()
        there = {blob.name: blob for blob in container.list_blobs(name_starts_with=prefix or None)}
        pending = [path for path in files if not _same(path, there.get(prefix + path.relative_to(folder).as_posix()))]
        ui.info(f"container {container_name!r}: {len(pending)} file(s) to upload, {len(files) - len(pending)} "
                "already there")

        def send(path: Path) -> None:
            data = path.read_bytes()
            container.upload_blob(prefix + path.relative_to(folder).as_posix(), data, overwrite=True,
                                  content_settings=ContentSettings(content_md5=hashlib.md5(data).digest()))

        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(send, pending))
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - the storage SDK's errors, one clear line each
        error = storage_failure(exc, container_name, account)
        if error is None:
            raise
        raise error from None
    return {"container": container_name, "prefix": prefix, "files": len(files), "uploaded": len(pending)}


def _same(path: Path, blob: Any) -> bool:
    """Whether the blob holds the file's bytes (by size and Content-MD5)."""
    if blob is None or blob.size != path.stat().st_size:
        return False
    md5 = getattr(blob.content_settings, "content_md5", None)
    return bool(md5) and bytes(md5) == hashlib.md5(path.read_bytes()).digest()
