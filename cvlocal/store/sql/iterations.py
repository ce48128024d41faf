"""The `iterations` table: training sets, the training lifecycle, renaming, deleting and publishing.

A training's result is written only where `_holds_training` says this process holds it: always, when one
process trains (SQLite); the holder of its lease, when replicas claim trainings (store/postgres/claims.py).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from ... import errors
from ..records import (IterationRecord, ProjectRecord, PublishedIteration, SnapshotEntry, TagRef, TrainedRegion,
                       TrainingJob, TrainingSet)
from . import rows
from .db import Database, new_id, utcnow

INTERRUPTED = "The service stopped while this iteration was training. Train the project again."
_SELECT = f"SELECT {rows.ITERATION_COLUMNS} FROM iterations"


class IterationTables:
    db: Database

    # ---- training
    def training_set(self, project_id: str, selected_tags: list[str] | None, with_regions: bool = False
                     ) -> TrainingSet:
        """The images a training would use and their tags; `with_regions` (object detection): the images with
        regions, each with its boxes."""
        tags = tuple((r["id"], r["name"]) for r in self.db.query(
            "SELECT id, name FROM tags WHERE project_id = ? AND type != 'Negative' ORDER BY created, id",
            (project_id,)) if not selected_tags or r["id"] in selected_tags)
        if with_regions:
            return self._detection_set(project_id, selected_tags, tags)
        wanted = {t for t, _ in tags}
        by_image: dict[str, list[str]] = {}
        for r in self.db.query("SELECT i.sha256, it.tag_id FROM images i JOIN image_tags it ON it.image_id = i.id "
                               "WHERE i.project_id = ? ORDER BY i.seq", (project_id,)):
            if r["tag_id"] in wanted:
                by_image.setdefault(r["sha256"], []).append(r["tag_id"])
        snapshot = sorted((sha, sorted(tids)) for sha, tids in by_image.items())
        # The fingerprint is stored: its recipe stays, so "nothing changed" keeps working on old iterations.
        fingerprint = hashlib.sha256(json.dumps([snapshot, sorted(tags)]).encode()).hexdigest()
        return TrainingSet(tags, tuple((sha, tuple(tids)) for sha, tids in snapshot), fingerprint)

    def _detection_set(self, project_id: str, selected_tags: list[str] | None, tags: tuple[TagRef, ...]
                       ) -> TrainingSet:
        wanted = {t for t, _ in tags}
        boxes: dict[str, list[TrainedRegion]] = {}
        negative: set[str] = set()
        for r in self.db.query("SELECT i.sha256, r.id, r.tag_id, r.box_left, r.box_top, r.box_width, r.box_height, "
                               "t.type, t.name FROM regions r JOIN images i ON i.id = r.image_id "
                               "JOIN tags t ON t.id = r.tag_id WHERE i.project_id = ? ORDER BY i.seq, r.created, r.id",
                               (project_id,)):
            if r["type"] == "Negative" and (not selected_tags or r["tag_id"] in selected_tags):
                negative.add(r["name"])
            if r["tag_id"] in wanted:
                boxes.setdefault(r["sha256"], []).append((r["id"], r["tag_id"], r["box_left"], r["box_top"],
                                                          r["box_width"], r["box_height"]))
        snapshot = sorted((sha, sorted({b[1] for b in found})) for sha, found in boxes.items())
        # Regions without their ids: drawing the same box again changes nothing.
        drawn = sorted([sha, sorted(b[1:] for b in found)] for sha, found in boxes.items())
        recipe = ["ObjectDetection", snapshot, sorted(tags), drawn]
        fingerprint = hashlib.sha256(json.dumps(recipe).encode()).hexdigest()
        return TrainingSet(tags, tuple((sha, tuple(tids)) for sha, tids in snapshot), fingerprint,
                           {sha: tuple(found) for sha, found in boxes.items()}, tuple(sorted(negative)))

    def create_iteration(self, project: ProjectRecord, training_set: TrainingSet, training_type: str,
                         budget_hours: int, force: bool, max_iterations: int | None) -> IterationRecord:
        pid, iid, now = project.id, new_id(), utcnow()
        with self.db.transaction() as c:
            self.db.lock_project(c, pid)  # the checks below see every training started before this one
            if c.execute("SELECT 1 FROM iterations WHERE project_id = ? AND status = 'Training'", (pid,)).fetchone():
                raise errors.bad_request("A training of this project is already in progress.",
                                         "BadRequestTrainingAlreadyInProgress")
            last = c.execute("SELECT fingerprint FROM iterations WHERE project_id = ? AND status = 'Completed' "
                             "ORDER BY created DESC LIMIT 1", (pid,)).fetchone()
            if last and last["fingerprint"] == training_set.fingerprint and not force:
                raise errors.bad_request("Nothing changed since the last trained iteration; pass forceTrain=true "
                                         "to train anyway.", "BadRequestTrainingNotNeeded")
            if max_iterations is not None and \
                    c.execute("SELECT COUNT(*) FROM iterations WHERE project_id = ?", (pid,)).fetchone()[0] \
                    >= max_iterations:
                raise errors.bad_request(f"A project keeps at most {max_iterations} iterations; delete an old "
                                         "one first.", "BadRequestExceedIterationPerProjectLimit")
            number = c.execute("UPDATE projects SET iteration_counter = iteration_counter + 1 WHERE id = ? "
                               "RETURNING iteration_counter", (pid,)).fetchone()[0]
            c.execute("INSERT INTO iterations (id, project_id, name, status, created, last_modified, domain_id, "
                      "classification_type, training_type, reserved_budget_hours, fingerprint, tags, snapshot, "
                      "regions) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      (iid, pid, f"Iteration {number}", "Training", now, now, project.domain_id,
                       project.classification_type, training_type, budget_hours, training_set.fingerprint,
                       json.dumps([list(t) for t in training_set.tags]),
                       json.dumps([[sha, list(tids)] for sha, tids in training_set.snapshot]),
                       json.dumps({sha: [list(b) for b in found] for sha, found in training_set.regions.items()})))
        return self.iteration(pid, iid)

    def _holds_training(self) -> tuple[str, tuple]:
        """(SQL condition on an iteration row, its parameters): this process holds the row's training."""
        return "", ()

    def training_job(self, iteration_id: str) -> TrainingJob | None:
        held, params = self._holds_training()
        row = self.db.query_one(f"SELECT {rows.ITERATION_COLUMNS}, snapshot, regions FROM iterations WHERE id = ? "
                                f"AND status = 'Training'{held}", (iteration_id, *params))
        if row is None:
            return None
        return TrainingJob(rows.iteration(row), rows.snapshot(row["snapshot"]), rows.trained_regions(row["regions"]))

    def finish_training(self, iteration_id: str, model_digest: str, heldout_digest: str, seconds: float,
                        timings: Mapping[str, float]) -> bool:
        """Completed, in one statement: all of the result or none of it. False: not ours to finish (any more)."""
        now = utcnow()
        held, params = self._holds_training()
        with self.db.transaction() as c:
            return c.execute("UPDATE iterations SET status = 'Completed', trained_at = ?, last_modified = ?, "
                             "training_seconds = ?, model_digest = ?, heldout_digest = ?, timings = ?, "
                             f"lease_expires = NULL WHERE id = ? AND status = 'Training'{held}",
                             (now, now, seconds, model_digest, heldout_digest, json.dumps(dict(timings)),
                              iteration_id, *params)).rowcount == 1

    def fail_training(self, iteration_id: str, reason: str) -> bool:
        held, params = self._holds_training()
        with self.db.transaction() as c:
            return c.execute("UPDATE iterations SET status = 'Failed', error_details = ?, last_modified = ?, "
                             f"lease_expires = NULL WHERE id = ? AND status = 'Training'{held}",
                             (reason, utcnow(), iteration_id, *params)).rowcount == 1

    def fail_interrupted(self) -> int:
        """At start-up: nothing trains yet, so any 'Training' row was cut short by a crash."""
        with self.db.transaction() as c:
            return c.execute("UPDATE iterations SET status = 'Failed', error_details = ?, last_modified = ? "
                             "WHERE status = 'Training'", (INTERRUPTED, utcnow())).rowcount

    # ---- reading and editing
    def iterations(self, project_id: str) -> list[IterationRecord]:
        return [rows.iteration(r) for r in self.db.query(_SELECT + " WHERE project_id = ? ORDER BY created",
                                                         (project_id,))]

    def iteration(self, project_id: str, iteration_id: str) -> IterationRecord:
        row = self.db.query_one(_SELECT + " WHERE project_id = ? AND id = ?", (project_id, iteration_id))
        if row is None:
            raise errors.not_found_iteration(iteration_id)
        return rows.iteration(row)

    def iteration_by_id(self, iteration_id: str) -> IterationRecord | None:
        """An iteration by its id alone (background work that holds only the id); None once deleted."""
        row = self.db.query_one(_SELECT + " WHERE id = ?", (iteration_id,))
        return rows.iteration(row) if row is not None else None

    def completed_iteration(self, project_id: str, iteration_id: str | None) -> IterationRecord:
        """The named iteration, or the newest completed one (quick test without an iteration id)."""
        if iteration_id:
            iteration = self.iteration(project_id, iteration_id)
        else:
            row = self.db.query_one(_SELECT + " WHERE project_id = ? AND status = 'Completed' "
                                    "ORDER BY created DESC LIMIT 1", (project_id,))
            if row is None:
                raise errors.not_found("This project has no trained iteration yet.", "NotFoundIteration")
            iteration = rows.iteration(row)
        if iteration.status != "Completed":
            raise errors.bad_request(f"{iteration.name} is {iteration.status}, not trained.",
                                     "BadRequestIterationIsNotTrained")
        return iteration

    def trained_on(self, project_id: str, iteration_id: str) -> tuple[str, tuple[TagRef, ...],
                                                                      tuple[SnapshotEntry, ...]]:
        """(when the iteration was created, its tags, its training set), for listings by iterationId."""
        row = self.db.query_one("SELECT created, tags, snapshot FROM iterations WHERE project_id = ? AND id = ?",
                                (project_id, iteration_id))
        if row is None:
            raise errors.not_found_iteration(iteration_id)
        return row["created"], rows.tag_refs(row["tags"]), rows.snapshot(row["snapshot"])

    def trained_regions(self, project_id: str, iteration_id: str) -> dict[str, tuple[TrainedRegion, ...]]:
        """The regions an object detection iteration trained on, by image content hash ({} for classification)."""
        row = self.db.query_one("SELECT regions FROM iterations WHERE project_id = ? AND id = ?",
                                (project_id, iteration_id))
        if row is None:
            raise errors.not_found_iteration(iteration_id)
        return rows.trained_regions(row["regions"])

    def model_tags(self, iteration_id: str) -> tuple[TagRef, ...]:
        row = self.db.query_one("SELECT tags FROM iterations WHERE id = ?", (iteration_id,))
        if row is None:
            raise errors.not_found_iteration(iteration_id)
        return rows.tag_refs(row["tags"])

    def rename_iteration(self, project_id: str, iteration_id: str, name: str) -> IterationRecord:
        self.iteration(project_id, iteration_id)
        with self.db.transaction() as c:
            c.execute("UPDATE iterations SET name = ?, last_modified = ? WHERE id = ?", (name, utcnow(), iteration_id))
        return self.iteration(project_id, iteration_id)

    def delete_iteration(self, project_id: str, iteration_id: str) -> None:
        self.iteration(project_id, iteration_id)
        with self.db.transaction() as c:
            self.db.lock_project(c, project_id)  # not published meanwhile
            iteration = c.execute("SELECT name, status, publish_name FROM iterations WHERE id = ?",
                                  (iteration_id,)).fetchone()
            if iteration is None:
                raise errors.not_found_iteration(iteration_id)
            if iteration["publish_name"]:
                raise errors.bad_request(f"{iteration['name']} is published as '{iteration['publish_name']}'; "
                                         "unpublish it first.", "BadRequestIterationIsPublished")
            if iteration["status"] == "Training":
                raise errors.bad_request(f"{iteration['name']} is still training; a started training cannot be "
                                         "cancelled.", "BadRequestTrainingAlreadyInProgress")
            c.execute("DELETE FROM iterations WHERE id = ?", (iteration_id,))

    # ---- publishing
    def publish(self, project_id: str, iteration_id: str, name: str, resource_id: str, overwrite: bool) -> None:
        iteration = self.completed_iteration(project_id, iteration_id)
        with self.db.transaction() as c:
            self.db.lock_project(c, project_id)  # one holder of a publish name
            holder = c.execute("SELECT id, name FROM iterations WHERE project_id = ? AND publish_name = ?",
                               (project_id, name)).fetchone()
            if holder and holder["id"] != iteration_id:
                if not overwrite:
                    raise errors.bad_request(f"'{name}' is already the publish name of {holder['name']}; unpublish "
                                             "it or pass overwrite=true.", "BadRequestInvalidPublishName")
                c.execute("UPDATE iterations SET publish_name = NULL, publish_resource_id = NULL WHERE id = ?",
                          (holder["id"],))
            c.execute("UPDATE iterations SET publish_name = ?, publish_resource_id = ?, last_modified = ? "
                      "WHERE id = ?", (name, resource_id, utcnow(), iteration.id))

    def unpublish(self, project_id: str, iteration_id: str) -> None:
        iteration = self.iteration(project_id, iteration_id)
        if not iteration.publish_name:
            raise errors.bad_request(f"{iteration.name} is not published.", "BadRequestIterationNotPublished")
        with self.db.transaction() as c:
            c.execute("UPDATE iterations SET publish_name = NULL, publish_resource_id = NULL, last_modified = ? "
                      "WHERE id = ?", (utcnow(), iteration_id))

    def published(self, project_id: str, name: str) -> PublishedIteration:
        """The iteration a prediction URL names (read on every prediction: five columns, nothing to decode)."""
        row = self.db.query_one("SELECT id, project_id, name, model_digest, domain_id FROM iterations "
                                "WHERE project_id = ? AND publish_name = ?", (project_id, name))
        if row is None:
            self.project(project_id)  # an unknown project says so first
            raise errors.not_published(project_id, name)
        return PublishedIteration(row["id"], row["project_id"], row["name"], row["model_digest"], row["domain_id"])
