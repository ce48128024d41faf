"""Iterations (training runs), publishing, exports, stored predictions and the feature cache."""
from __future__ import annotations

import hashlib
import json
import sqlite3
import time

import numpy as np

from .. import errors
from .catalog import MAX_NAME, new_id
from .db import Database, utcnow

MAX_ITERATIONS = 20
MIN_TAGS = 2
MIN_IMAGES_PER_TAG = 5
INTERRUPTED = "The service stopped while this iteration was training. Train the project again."


class IterationStore:
    db: Database

    # ---- training
    def training_set(self, project_id: str, selected_tags: list[str] | None):
        """(tags [(id, name)], snapshot [(sha256, [tag ids])], fingerprint) of what training would use."""
        tags = [(r["id"], r["name"]) for r in self.db.query(
            "SELECT id, name FROM tags WHERE project_id = ? AND type != 'Negative' ORDER BY created, rowid",
            (project_id,)) if not selected_tags or r["id"] in selected_tags]
        wanted = {t for t, _ in tags}
        by_image: dict[str, list[str]] = {}
        for r in self.db.query("SELECT i.sha256, it.tag_id FROM images i JOIN image_tags it ON it.image_id = i.id "
                               "WHERE i.project_id = ? ORDER BY i.seq", (project_id,)):
            if r["tag_id"] in wanted:
                by_image.setdefault(r["sha256"], []).append(r["tag_id"])
        snapshot = sorted((sha, sorted(tids)) for sha, tids in by_image.items())
        digest = hashlib.sha256(json.dumps([snapshot, sorted(tags)]).encode()).hexdigest()
        return tags, snapshot, digest

    def create_iteration(self, project: sqlite3.Row, training_type: str, budget_hours: int,
                         force: bool, selected_tags: list[str] | None) -> sqlite3.Row:
        pid = project["id"]
        tags, snapshot, fingerprint = self.training_set(pid, selected_tags)
        counts = {tid: 0 for tid, _ in tags}
        for _, tids in snapshot:
            for tid in tids:
                counts[tid] += 1
        short = [f"'{name}' ({counts[tid]})" for tid, name in tags if counts[tid] < MIN_IMAGES_PER_TAG]
        if len(tags) < MIN_TAGS or short:
            reason = (f"Not enough images: classification needs at least {MIN_TAGS} tags with at least "
                      f"{MIN_IMAGES_PER_TAG} images each. ")
            reason += (f"Tags short of images: {', '.join(short)}." if short
                       else f"The project has {len(tags)} tag(s).")
            raise errors.bad_request(reason, "BadRequestTrainingValidationFailed")
        iid, now = new_id(), utcnow()
        with self.db.transaction() as c:
            if c.execute("SELECT 1 FROM iterations WHERE project_id = ? AND status = 'Training'", (pid,)).fetchone():
                raise errors.bad_request("A training of this project is already in progress.",
                                         "BadRequestTrainingAlreadyInProgress")
            last = c.execute("SELECT fingerprint FROM iterations WHERE project_id = ? AND status = 'Completed' "
                             "ORDER BY created DESC LIMIT 1", (pid,)).fetchone()
            if last and last["fingerprint"] == fingerprint and not force:
                raise errors.bad_request("Nothing changed since the last trained iteration; pass forceTrain=true "
                                         "to train anyway.", "BadRequestTrainingNotNeeded")
            if c.execute("SELECT COUNT(*) FROM iterations WHERE project_id = ?", (pid,)).fetchone()[0] \
                    >= MAX_ITERATIONS:
                raise errors.bad_request(f"A project keeps at most {MAX_ITERATIONS} iterations; delete an old "
                                         "one first.", "BadRequestExceedIterationPerProjectLimit")
            number = c.execute("UPDATE projects SET iteration_counter = iteration_counter + 1 WHERE id = ? "
                               "RETURNING iteration_counter", (pid,)).fetchone()[0]
            c.execute("INSERT INTO iterations (id, project_id, name, status, created, last_modified, domain_id, "
                      "classification_type, training_type, reserved_budget_hours, fingerprint, tags, snapshot) "
                      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      (iid, pid, f"Iteration {number}", "Training", now, now, project["domain_id"],
                       project["classification_type"], training_type, budget_hours, fingerprint,
                       json.dumps(tags), json.dumps(snapshot)))
        return self.iteration(pid, iid)

    def finish_training(self, iteration_id: str, model_digest: str, heldout_digest: str,
                        seconds: float, timings: dict) -> None:
        now = utcnow()
        with self.db.transaction() as c:
            c.execute("UPDATE iterations SET status = 'Completed', trained_at = ?, last_modified = ?, "
                      "training_seconds = ?, model_digest = ?, heldout_digest = ?, timings = ? WHERE id = ? "
                      "AND status = 'Training'",
                      (now, now, seconds, model_digest, heldout_digest, json.dumps(timings), iteration_id))

    def fail_training(self, iteration_id: str, reason: str) -> None:
        with self.db.transaction() as c:
            c.execute("UPDATE iterations SET status = 'Failed', error_details = ?, last_modified = ? "
                      "WHERE id = ? AND status = 'Training'", (reason, utcnow(), iteration_id))

    def fail_interrupted(self) -> int:
        """At start-up: nothing trains yet, so any 'Training' row was cut short by a crash."""
        with self.db.transaction() as c:
            return c.execute("UPDATE iterations SET status = 'Failed', error_details = ?, last_modified = ? "
                             "WHERE status = 'Training'", (INTERRUPTED, utcnow())).rowcount

    # ---- reading and editing
    def iterations(self, project_id: str) -> list[sqlite3.Row]:
        return self.db.query("SELECT * FROM iterations WHERE project_id = ? ORDER BY created", (project_id,))

    def iteration(self, project_id: str, iteration_id: str) -> sqlite3.Row:
        row = self.db.query_one("SELECT * FROM iterations WHERE project_id = ? AND id = ?",
                                (project_id, iteration_id))
        if row is None:
            raise errors.not_found_iteration(iteration_id)
        return row

    def completed_iteration(self, project_id: str, iteration_id: str | None) -> sqlite3.Row:
        """The named iteration, or the newest completed one (quick test without an iteration id)."""
        if iteration_id:
            row = self.iteration(project_id, iteration_id)
        else:
            row = self.db.query_one("SELECT * FROM iterations WHERE project_id = ? AND status = 'Completed' "
                                    "ORDER BY created DESC LIMIT 1", (project_id,))
            if row is None:
                raise errors.not_found("This project has no trained iteration yet.", "NotFoundIteration")
        if row["status"] != "Completed":
            raise errors.bad_request(f"{row['name']} is {row['status']}, not trained.",
                                     "BadRequestIterationIsNotTrained")
        return row

    def rename_iteration(self, project_id: str, iteration_id: str, name: str) -> sqlite3.Row:
        self.iteration(project_id, iteration_id)
        if not (name or "").strip() or len(name.strip()) > MAX_NAME:
            raise errors.bad_request(f"An iteration name must be 1 to {MAX_NAME} characters.",
                                     "BadRequestIterationName")
        with self.db.transaction() as c:
            c.execute("UPDATE iterations SET name = ?, last_modified = ? WHERE id = ?",
                      (name.strip(), utcnow(), iteration_id))
        return self.iteration(project_id, iteration_id)

    def delete_iteration(self, project_id: str, iteration_id: str) -> None:
        row = self.iteration(project_id, iteration_id)
        if row["publish_name"]:
            raise errors.bad_request(f"{row['name']} is published as '{row['publish_name']}'; unpublish it first.",
                                     "BadRequestIterationIsPublished")
        if row["status"] == "Training":
            raise errors.bad_request(f"{row['name']} is still training; a started training cannot be cancelled.",
                                     "BadRequestTrainingAlreadyInProgress")
        with self.db.transaction() as c:
            c.execute("DELETE FROM iterations WHERE id = ?", (iteration_id,))

    # ---- publishing
    def publish(self, project_id: str, iteration_id: str, name: str, resource_id: str, overwrite: bool) -> None:
        row = self.completed_iteration(project_id, iteration_id)
        name = (name or "").strip()
        # The name is a segment of the prediction URL: no '/', and not '.' or '..' (clients resolve those away).
        if not name or "/" in name or name in (".", "..") or len(name) > MAX_NAME:
            raise errors.bad_request(f"A publish name must be 1 to {MAX_NAME} characters, without '/' (and not "
                                     "'.' or '..').", "BadRequestInvalidPublishName")
        if not (resource_id or "").strip():
            raise errors.bad_request("predictionId (the prediction resource's id) is required.",
                                     "BadRequestInvalidPublishTarget")
        with self.db.transaction() as c:
            holder = c.execute("SELECT id, name FROM iterations WHERE project_id = ? AND publish_name = ?",
                               (project_id, name)).fetchone()
            if holder and holder["id"] != iteration_id:
                if not overwrite:
                    raise errors.bad_request(f"'{name}' is already the publish name of {holder['name']}; unpublish "
                                             "it or pass overwrite=true.", "BadRequestInvalidPublishName")
                c.execute("UPDATE iterations SET publish_name = NULL, publish_resource_id = NULL WHERE id = ?",
                          (holder["id"],))
            c.execute("UPDATE iterations SET publish_name = ?, publish_resource_id = ?, last_modified = ? "
                      "WHERE id = ?", (name, resource_id, utcnow(), row["id"]))

    def unpublish(self, project_id: str, iteration_id: str) -> None:
        row = self.iteration(project_id, iteration_id)
        if not row["publish_name"]:
            raise errors.bad_request(f"{row['name']} is not published.", "BadRequestIterationNotPublished")
        with self.db.transaction() as c:
            c.execute("UPDATE iterations SET publish_name = NULL, publish_resource_id = NULL, last_modified = ? "
                      "WHERE id = ?", (utcnow(), iteration_id))

    def published(self, project_id: str, name: str) -> sqlite3.Row:
        """The iteration a prediction URL names; only what serving needs (not the training snapshot)."""
        row = self.db.query_one("SELECT id, project_id, name, status, publish_name, model_digest, tags "
                                "FROM iterations WHERE project_id = ? AND publish_name = ?", (project_id, name))
        if row is None:
            self.project(project_id)  # an unknown project says so first
            raise errors.not_published(project_id, name)
        return row

    # ---- exports
    def create_export(self, iteration_id: str, platform: str, flavor: str | None, token: str,
                      blob_digest: str, lifetime_s: float) -> None:
        with self.db.transaction() as c:
            c.execute("DELETE FROM exports WHERE iteration_id = ? AND platform = ? AND COALESCE(flavor, '') = ?",
                      (iteration_id, platform, flavor or ""))
            c.execute("INSERT INTO exports (id, iteration_id, platform, flavor, status, token, blob_digest, created, "
                      "expires) VALUES (?,?,?,?,?,?,?,?,?)",
                      (new_id(), iteration_id, platform, flavor, "Done", token, blob_digest, utcnow(),
                       time.time() + lifetime_s))

    def exports(self, iteration_id: str) -> list[sqlite3.Row]:
        return self.db.query("SELECT * FROM exports WHERE iteration_id = ? ORDER BY created", (iteration_id,))

    def export_by_token(self, token: str) -> sqlite3.Row | None:
        row = self.db.query_one("SELECT * FROM exports WHERE token = ?", (token,))
        return row if row is not None and row["expires"] > time.time() else None

    # ---- stored predictions
    def store_prediction(self, prediction_id: str, project_id: str, iteration_id: str, application: str | None,
                         sha256: str, predictions: list[dict], created: str) -> None:
        with self.db.transaction() as c:
            c.execute("INSERT INTO predictions (id, project_id, iteration_id, application, sha256, predictions, "
                      "created) VALUES (?,?,?,?,?,?,?)",
                      (prediction_id, project_id, iteration_id, application, sha256, json.dumps(predictions),
                       created))

    # ---- feature cache
    def cached_features(self, backbone: str, hashes: list[str]) -> dict[str, np.ndarray]:
        out = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.db.query(f"SELECT sha256, vector FROM features WHERE backbone = ? AND sha256 IN ({marks})",
                                   [backbone, *chunk]):
                out[r["sha256"]] = np.frombuffer(r["vector"], dtype=np.float32)
        return out

    def cache_features(self, backbone: str, vectors: dict[str, np.ndarray]) -> None:
        with self.db.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO features (sha256, backbone, vector) VALUES (?,?,?)",
                          [(h, backbone, v.astype(np.float32).tobytes()) for h, v in vectors.items()])
