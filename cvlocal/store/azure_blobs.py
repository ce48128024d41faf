"""Blobs in an Azure Blob Storage container, for replicas that share nothing but the database and the container.

    --blobs azureblob://ACCOUNT/CONTAINER[/PREFIX]

Credentials: $AZURE_STORAGE_CONNECTION_STRING when it is set (its AccountName must be ACCOUNT; Azurite's
connection string works too), else DefaultAzureCredential (workload or managed identity, the Azure CLI's login,
AZURE_CLIENT_ID/SECRET/TENANT_ID) against https://ACCOUNT.blob.core.windows.net, with the role Storage Blob
Data Contributor on the container. The container is created when missing and the identity may create it.

A blob is named by its digest (`PREFIX/ab/abcdef...`), so storing the same bytes twice, from any replica,
keeps one copy: the upload says "only if it does not exist" (If-None-Match: *) and a 409 means it is there
already; the blob is then freshened (its metadata set, which moves its Last-Modified time), as garbage
collection expects of `put` (store/blobs.py). Azure answers an upload once the bytes are durable, as
`BlobStore.put` promises.

Garbage collection deletes a blob with If-Unmodified-Since: the service itself refuses the delete of a blob a
`put` freshened after it was listed, so no replica's upload loses its bytes to a collection racing it. An
interrupted upload leaves no blob behind (uncommitted blocks are not blobs, and Azure discards them itself).
"""
from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

from .blobs import DIGEST, StoredBlob, sha256_hex

SCHEME = "azureblob"
CONNECTION_STRING = "AZURE_STORAGE_CONNECTION_STRING"
_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")
_CONTAINER = re.compile(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]")
USAGE = f"--blobs takes {SCHEME}://ACCOUNT/CONTAINER[/PREFIX] (or a folder; leave it out for DATA_DIR/blobs)"

# The SDK logs every request and its headers at INFO; the service's log is not the place for them.
logging.getLogger("azure").setLevel(logging.WARNING)


@dataclass(frozen=True)
class ContainerUrl:
    account: str
    container: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> "ContainerUrl":
        parts = urlsplit(url)
        container, _, prefix = parts.path.lstrip("/").partition("/")
        if parts.scheme != SCHEME or parts.query or parts.username or parts.password:
            raise ValueError(f"'{url}': {USAGE}")
        if not _ACCOUNT.fullmatch(parts.netloc or ""):
            raise ValueError(f"'{parts.netloc}' is not a storage account name (3-24 lowercase letters and digits)")
        if not _CONTAINER.fullmatch(container):
            raise ValueError(f"'{container}' is not a container name (3-63 lowercase letters, digits and single "
                             "hyphens, starting and ending with a letter or digit)")
        return cls(parts.netloc, container, prefix.strip("/"))

    def connection_string(self) -> str | None:
        """$AZURE_STORAGE_CONNECTION_STRING when it is set, checked to be this account's."""
        value = os.environ.get(CONNECTION_STRING)
        if value and _account_of(value) != self.account:
            raise ValueError(f"${CONNECTION_STRING} is for the storage account '{_account_of(value)}', not "
                             f"'{self.account}'")
        return value


def _account_of(connection_string: str) -> str | None:
    fields = dict(part.split("=", 1) for part in connection_string.split(";") if "=" in part)
    if fields.get("UseDevelopmentStorage", "").lower() == "true":
        return "devstoreaccount1"
    return fields.get("AccountName")


def container_client(where: ContainerUrl):
    from azure.storage.blob import BlobServiceClient

    connection_string = where.connection_string()
    if connection_string:
        service = BlobServiceClient.from_connection_string(connection_string, connection_timeout=10)
    else:
        from azure.identity import DefaultAzureCredential

        service = BlobServiceClient(f"https://{where.account}.blob.core.windows.net",
                                    credential=DefaultAzureCredential(), connection_timeout=10)
    return service.get_container_client(where.container)


class AzureBlobStore:
    def __init__(self, container, prefix: str = ""):
        from azure.core.exceptions import HttpResponseError, ResourceExistsError

        self.container = container
        self.prefix = f"{prefix}/" if prefix else ""
        try:
            container.create_container()
        except ResourceExistsError:
            pass
        except HttpResponseError as exc:  # may not create containers: it must exist then (ping says)
            if exc.status_code != 403:
                raise

    @classmethod
    def from_url(cls, url: str) -> "AzureBlobStore":
        where = ContainerUrl.parse(url)
        return cls(container_client(where), where.prefix)

    def name(self, digest: str) -> str:
        return f"{self.prefix}{digest[:2]}/{digest}"

    def put(self, data: bytes) -> str:
        from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

        digest = sha256_hex(data)
        name = self.name(digest)
        while True:
            try:
                self.container.upload_blob(name, data, overwrite=False)
                return digest
            except ResourceExistsError:  # the same bytes, stored before (by this replica or another)
                try:
                    self.container.get_blob_client(name).set_blob_metadata({"freshened": "true"})
                    return digest
                except ResourceNotFoundError:
                    continue  # collected between the two calls: upload it again

    def get(self, digest: str) -> bytes:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.container.download_blob(self.name(digest)).readall()
        except ResourceNotFoundError:
            raise FileNotFoundError(f"blob {digest} is not in container {self.container.container_name}") from None

    def exists(self, digest: str) -> bool:
        return self.container.get_blob_client(self.name(digest)).exists()

    def freshen(self, digest: str) -> bool:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self.container.get_blob_client(self.name(digest)).set_blob_metadata({"freshened": "true"})
            return True
        except ResourceNotFoundError:
            return False

    def ping(self) -> None:
        self.container.get_container_properties()

    def listing(self) -> Iterator[StoredBlob]:
        for blob in self.container.list_blobs(name_starts_with=self.prefix or None):
            folder, _, digest = blob.name[len(self.prefix):].partition("/")
            if DIGEST.match(digest) and digest[:2] == folder:
                yield StoredBlob(digest, blob.last_modified.timestamp(), blob.size)

    def delete_stale(self, digest: str, written_before: float) -> bool:
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        # Last-Modified has whole seconds: a second earlier than asked, so a blob written at `written_before`
        # (or freshened since) is never taken for an older one.
        unmodified_since = datetime.fromtimestamp(math.floor(written_before) - 1, timezone.utc)
        try:
            self.container.delete_blob(self.name(digest), if_unmodified_since=unmodified_since)
        except (ResourceModifiedError, ResourceNotFoundError):  # freshened by a put, or gone already
            return False
        return True

    def delete_leftovers(self, written_before: float) -> int:
        return 0  # an upload commits whole or leaves no blob (see above)
