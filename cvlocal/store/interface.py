"""The store's contract: every read and write of the service's data, whatever keeps it.

`store/sql/` implements it once on any engine: `store/sqlite/` runs it on one SQLite file, `store/postgres/`
on a PostgreSQL database replicas share, with the same methods and records (store/records.py). The rules a backend enforces are the ones that need
its transactions: existence (`NotFound*`), uniqueness (`...NameNotUnique`), and the checks that must see the
same state as the write they guard (one training of a project at a time, nothing changed since the last
iteration, the quotas of a pricing tier, a published iteration cannot be deleted). Each raises Custom Vision's
error from cvlocal/errors.py. Limits that are Custom Vision's rules (how many projects, images, tags and
iterations the tier allows, how many metadata pairs) come in as arguments from where those rules live
(cvlocal/tiers, the request models); None is no limit.

The training queue reads a job with `training_job` and writes its result with `finish_training` or
`fail_training`. Where several replicas share the database (PostgreSQL), `claims` hands trainings out: a
replica claims one with a lease it renews, and only the lease's holder can read the job or write its result,
so a training whose replica died is finished by another (training/claimed.py). `claims` is None where one
process trains (SQLite: the in-process queue, training/queue.py).

Adding a method: declare it here, write it once in the table module of store/sql/ (both engines run it), and
keep engine differences to the `Database` methods of store/sql/db.py.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import numpy as np

from .blobs import BlobStore
from .records import (ExportedProject, ExportRecord, ImageQuery, ImageRecord, IterationRecord, MetadataUpdate,
                      NewImage, PredictionFilter, ProjectChanges, ProjectExportRecord, ProjectRecord,
                      PublishedIteration, SnapshotEntry, StoredPredictionRecord, TagChanges, TagRecord, TagRef,
                      TrainingJob, TrainingSet)


class TrainingClaims(Protocol):
    owner: str                            # this replica, as lease_owner records it

    def claim_training(self, lease_s: float) -> str | None:
        """The oldest training nobody holds (never claimed, or its lease ran out), now leased to this replica."""
    def renew_trainings(self, lease_s: float) -> int:
        """Extend the leases this replica holds (the heartbeat); how many it still holds."""
    def release_trainings(self) -> int:
        """Hand every lease of this replica back (graceful shutdown): another replica claims them at once."""


class Store(Protocol):
    blobs: BlobStore
    claims: TrainingClaims | None

    # ---- projects
    def create_project(self, name: str, description: str, domain_id: str, classification_type: str,
                       target_export_platforms: tuple[str, ...], max_projects: int | None = None) -> ProjectRecord: ...
    def projects(self) -> list[ProjectRecord]: ...
    def project(self, project_id: str) -> ProjectRecord: ...
    def update_project(self, project_id: str, changes: ProjectChanges) -> ProjectRecord: ...
    def delete_project(self, project_id: str) -> None: ...

    # ---- tags (with `iteration_id`: as that iteration trained on them, image counts included)
    def create_tag(self, project_id: str, name: str, description: str | None, tag_type: str,
                   max_tags: int | None = None) -> TagRecord: ...
    def tags(self, project_id: str, iteration_id: str | None = None) -> list[TagRecord]: ...
    def tag(self, project_id: str, tag_id: str, iteration_id: str | None = None) -> TagRecord: ...
    def update_tag(self, project_id: str, tag_id: str, changes: TagChanges) -> TagRecord: ...
    def delete_tag(self, project_id: str, tag_id: str) -> None: ...
    def require_tags(self, project_id: str, tag_ids: list[str]) -> None: ...

    # ---- images (their bytes are in `blobs` before these rows are written)
    def add_images(self, project_id: str, images: list[NewImage], metadata: Mapping[str, str] | None,
                   max_images: int | None = None) -> list[tuple[ImageRecord | None, bool]]:
        """One transaction for the batch; per image (its record, whether it was a duplicate); the record is None
        for a new image that would take the project past `max_images`."""
    def images(self, project_id: str, query: ImageQuery) -> list[ImageRecord]: ...
    def image_count(self, project_id: str, query: ImageQuery) -> int: ...
    def image_by_id(self, image_id: str) -> ImageRecord | None: ...
    def delete_images(self, project_id: str, image_ids: list[str] | None) -> None: ...
    def update_image_metadata(self, project_id: str, image_ids: list[str], metadata: Mapping[str, str],
                              max_pairs: int) -> list[MetadataUpdate]: ...
    def add_image_tags(self, project_id: str, pairs: list[tuple[str, str]]) -> tuple[list, list]: ...
    def remove_image_tags(self, project_id: str, image_ids: list[str], tag_ids: list[str]) -> None: ...

    # ---- iterations and their training
    def training_set(self, project_id: str, selected_tags: list[str] | None) -> TrainingSet: ...
    def create_iteration(self, project: ProjectRecord, training_set: TrainingSet, training_type: str,
                         budget_hours: int, force: bool, max_iterations: int | None) -> IterationRecord: ...
    def training_job(self, iteration_id: str) -> TrainingJob | None:
        """The iteration to train, or None when it is no longer Training (deleted with its project)."""
    def finish_training(self, iteration_id: str, model_digest: str, heldout_digest: str, seconds: float,
                        timings: Mapping[str, float]) -> bool:
        """Completed with its result, atomically; False when the training is not (any more) this process's."""
    def fail_training(self, iteration_id: str, reason: str) -> bool: ...
    def fail_interrupted(self) -> int: ...
    def iterations(self, project_id: str) -> list[IterationRecord]: ...
    def iteration(self, project_id: str, iteration_id: str) -> IterationRecord: ...
    def completed_iteration(self, project_id: str, iteration_id: str | None) -> IterationRecord: ...
    def rename_iteration(self, project_id: str, iteration_id: str, name: str) -> IterationRecord: ...
    def delete_iteration(self, project_id: str, iteration_id: str) -> None: ...
    def model_tags(self, iteration_id: str) -> tuple[TagRef, ...]: ...
    def trained_on(self, project_id: str, iteration_id: str) -> tuple[str, tuple[TagRef, ...],
                                                                      tuple[SnapshotEntry, ...]]:
        """(when the iteration was created, its tags, its training set in the order its held-out results keep)."""

    # ---- publishing
    def publish(self, project_id: str, iteration_id: str, name: str, resource_id: str, overwrite: bool) -> None: ...
    def unpublish(self, project_id: str, iteration_id: str) -> None: ...
    def published(self, project_id: str, name: str) -> PublishedIteration: ...

    # ---- exports, stored predictions, the feature cache
    def create_export(self, iteration_id: str, platform: str, flavor: str | None, token: str, blob_digest: str,
                      lifetime_s: float) -> ExportRecord: ...
    def exports(self, iteration_id: str) -> list[ExportRecord]: ...
    def export_by_token(self, token: str) -> ExportRecord | None: ...
    # ---- projects copied: export_project keeps the project as it is; import_project makes one from an export
    def create_project_export(self, project_id: str, lifetime_s: float) -> ProjectExportRecord:
        """BadRequestExportWhileTraining while the project trains."""
    def project_export(self, export_id: str) -> ProjectExportRecord | None:
        """None once expired, or once its project is deleted."""
    def project_export_has_image(self, export_id: str, sha256: str) -> bool: ...
    def check_import_fits(self, project: ExportedProject, max_tags: int | None, max_images: int | None) -> None:
        """The tier's refusals of an import that can be told before it starts (the project count is the
        transaction's)."""
    def import_project(self, exported: ProjectExportRecord | ExportedProject, name: str | None,
                       max_projects: int | None = None, max_tags: int | None = None,
                       max_images: int | None = None) -> ProjectRecord:
        """One transaction: the whole project or nothing. `exported`: this store's own export (still unexpired
        when the transaction commits), or a project exported elsewhere whose images' blobs are already put."""

    def store_prediction(self, prediction_id: str, project_id: str, iteration_id: str, application: str | None,
                         sha256: str, predictions: list[dict], created: str) -> None: ...
    def query_predictions(self, project_id: str, query: PredictionFilter) -> list[StoredPredictionRecord]: ...
    def predictions_by_ids(self, project_id: str, prediction_ids: list[str]) -> list[StoredPredictionRecord]: ...
    def prediction_by_id(self, prediction_id: str) -> StoredPredictionRecord | None: ...
    def delete_predictions(self, project_id: str, prediction_ids: list[str]) -> None: ...
    def cached_features(self, version: str, hashes: list[str]) -> dict[str, np.ndarray]: ...
    def cache_features(self, version: str, vectors: Mapping[str, np.ndarray]) -> None: ...

    # ---- operating the service (/ready, cvlocal backup, restore and gc: store/backup.py, store/gc.py)
    def ping(self) -> None:
        """Raise unless the database and the blobs answer now (the readiness check)."""
    def referenced_blobs(self, now: float | None = None) -> set[str]:
        """Every blob a row names, read as of one moment: images, stored predictions, iterations' heads and
        held-out files, exports whose link lasts beyond `now`, the images of trainings in progress, and those of
        exported projects whose token lasts beyond `now`. A new
        column that names a blob must be added here, or garbage collection deletes its blobs."""
    def delete_expired_exports(self, now: float | None = None) -> int: ...
    def backup_metadata(self, destination: Path) -> set[str]:
        """A consistent copy of the metadata (as of one moment, taken while serving) into the folder
        `destination`, in this backend's format; the blobs that copy names. BackupError where the backend's
        own tools make backups instead (PostgreSQL: the message says which)."""
    def restore_metadata(self, source: Path) -> set[str]:
        """Replace this store's (empty) metadata with the copy in `source`; the blobs it names."""

    def close(self) -> None: ...
