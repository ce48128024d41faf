"""Garbage collection: blobs no row names any more (deleted images and projects, deleted iterations' heads and
held-out files, expired exports, stored predictions of deleted projects) are deleted.

Safe while the service serves. Blobs are written before the rows that name them, so a blob no row names may
be one an upload, a training or an export is about to name: only blobs not written (nor freshened by a `put`
of the same bytes) for `grace_s` are deleted. The blobs are listed before the rows are read, so a blob
written or freshened before the listing and named by a row after the read is young in the listing, and kept;
one freshened after the listing looks old there, and the blob store's `delete_stale`, which looks at the
blob's time again as it deletes, keeps it (store/blobs.py).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from .interface import Store

DEFAULT_GRACE_S = 3600.0
MIN_GRACE_S = 60.0  # longer than any upload, training or export takes between writing a blob and its row


@dataclass
class Collection:
    dry_run: bool
    referenced: int = 0          # blobs some row names (kept)
    referenced_bytes: int = 0
    young: int = 0               # named by no row, but written within the grace period (kept)
    young_bytes: int = 0
    deleted: int = 0             # named by no row and older (deleted, or would be in a dry run)
    deleted_bytes: int = 0
    expired_exports: int = 0     # export rows whose link had expired (deleted; a dry run counts none)
    leftovers: int = 0           # temporary files of interrupted writes (deleted)


def collect_garbage(store: Store, grace_s: float = DEFAULT_GRACE_S, dry_run: bool = False) -> Collection:
    """Delete (or, in a dry run, count) the blobs no row names that are older than `grace_s`."""
    if grace_s < MIN_GRACE_S:
        raise ValueError(f"The grace period must be at least {MIN_GRACE_S:g} seconds: a younger blob no row names "
                         "yet may be one a request is about to name.")
    now = time.time()
    written_before = now - grace_s
    result = Collection(dry_run=dry_run)
    if not dry_run:
        result.leftovers = store.blobs.delete_leftovers(written_before)
    stored = list(store.blobs.listing())  # before the rows are read (see above)
    if not dry_run:
        result.expired_exports = store.delete_expired_exports(now)
    referenced = store.referenced_blobs(now)
    for blob in stored:
        if blob.digest in referenced:
            result.referenced += 1
            result.referenced_bytes += blob.size
        elif blob.written >= written_before:
            result.young += 1
            result.young_bytes += blob.size
        elif dry_run or store.blobs.delete_stale(blob.digest, written_before):
            result.deleted += 1
            result.deleted_bytes += blob.size
    return result
