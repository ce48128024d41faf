"""Projects, tags and images: existence and conflict checks live here and raise Custom Vision's errors."""
from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass

from .. import errors
from ..domains import classification_domain
from .db import Database, utcnow

CLASSIFICATION_TYPES = ("Multiclass", "Multilabel")
TAG_TYPES = ("Regular", "Negative", "GeneralProduct")
MAX_TAG_NAME = 256
MAX_NAME = 256            # project names (and publish and iteration names, in iterations.py)
MAX_DESCRIPTION = 4096    # project and tag descriptions
MAX_METADATA_PAIRS = 10   # Azure's limits on image metadata: 10 pairs, keys up to 128, values up to 256
MAX_METADATA_KEY = 128
MAX_METADATA_VALUE = 256


def check_project_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise errors.bad_request(f"A project name must be 1 to {MAX_NAME} characters.", "BadRequestProjectName")
    return name


def check_description(description: str | None, code: str) -> None:
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise errors.bad_request(f"A description may be at most {MAX_DESCRIPTION} characters.", code)


def check_metadata(metadata: dict | None) -> None:
    """Image metadata as Azure takes it: at most 10 string pairs, keys of 1 to 128 and values of up to 256
    characters."""
    if metadata is None:
        return
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise errors.bad_request("metadata must be an object of string keys and string values.",
                                 "BadRequestImageMetadataKey")
    if len(metadata) > MAX_METADATA_PAIRS:
        raise errors.bad_request(f"An image has at most {MAX_METADATA_PAIRS} metadata pairs.",
                                 "BadRequestImageMetadataKey")
    for key, value in metadata.items():
        if not key or len(key) > MAX_METADATA_KEY:
            raise errors.bad_request(f"A metadata key must be 1 to {MAX_METADATA_KEY} characters.",
                                     "BadRequestImageMetadataKey")
        if len(value) > MAX_METADATA_VALUE:
            raise errors.bad_request(f"A metadata value may be at most {MAX_METADATA_VALUE} characters.",
                                     "BadRequestImageMetadataValue")


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class NewImage:
    sha256: str
    width: int
    height: int
    size: int


class CatalogStore:
    db: Database

    # ---- projects
    def create_project(self, name: str, description: str, domain_id: str | None,
                       classification_type: str | None, export_platforms: list[str]) -> sqlite3.Row:
        name = check_project_name(name)
        check_description(description, "BadRequestProjectDescription")
        ctype = classification_type or "Multiclass"
        if ctype not in CLASSIFICATION_TYPES:
            raise errors.bad_request(f"Unknown classificationType '{ctype}'; use Multiclass or Multilabel.",
                                     "BadRequestProjectUnknownClassification")
        domain = classification_domain(domain_id)
        pid, now = new_id(), utcnow()
        with self.db.transaction() as c:
            if c.execute("SELECT 1 FROM projects WHERE name = ?", (name,)).fetchone():
                raise errors.bad_request(f"A project named '{name}' already exists.", "BadRequestProjectNameNotUnique")
            c.execute("INSERT INTO projects (id, name, description, domain_id, classification_type, "
                      "target_export_platforms, created, last_modified) VALUES (?,?,?,?,?,?,?,?)",
                      (pid, name, description or "", domain.id, ctype, json.dumps(export_platforms), now, now))
        return self.project(pid)

    def projects(self) -> list[sqlite3.Row]:
        return self.db.query("SELECT * FROM projects ORDER BY created")

    def project(self, project_id: str) -> sqlite3.Row:
        row = self.db.query_one("SELECT * FROM projects WHERE id = ?", (project_id,))
        if row is None:
            raise errors.not_found_project(project_id)
        return row

    def update_project(self, project_id: str, name: str | None, description: str | None,
                       domain_id: str | None, classification_type: str | None) -> sqlite3.Row:
        current = self.project(project_id)
        name = check_project_name(name) if name else None
        check_description(description, "BadRequestProjectDescription")
        if classification_type and classification_type not in CLASSIFICATION_TYPES:
            raise errors.bad_request(f"Unknown classificationType '{classification_type}'.",
                                     "BadRequestProjectUnknownClassification")
        domain = classification_domain(domain_id) if domain_id else None
        with self.db.transaction() as c:
            if name and name != current["name"] and c.execute(
                    "SELECT 1 FROM projects WHERE name = ?", (name,)).fetchone():
                raise errors.bad_request(f"A project named '{name}' already exists.", "BadRequestProjectNameNotUnique")
            c.execute("UPDATE projects SET name = ?, description = ?, domain_id = ?, classification_type = ?, "
                      "last_modified = ? WHERE id = ?",
                      (name or current["name"], current["description"] if description is None else description,
                       domain.id if domain else current["domain_id"],
                       classification_type or current["classification_type"], utcnow(), project_id))
        return self.project(project_id)

    def delete_project(self, project_id: str) -> None:
        self.project(project_id)
        with self.db.transaction() as c:
            published = c.execute("SELECT name, publish_name FROM iterations WHERE project_id = ? "
                                  "AND publish_name IS NOT NULL", (project_id,)).fetchone()
            if published:
                raise errors.bad_request(
                    f"{published['name']} is published as '{published['publish_name']}'; unpublish it first.",
                    "BadRequestIterationIsPublished")
            c.execute("DELETE FROM projects WHERE id = ?", (project_id,))

    def touch_project(self, c: sqlite3.Connection, project_id: str) -> None:
        c.execute("UPDATE projects SET last_modified = ? WHERE id = ?", (utcnow(), project_id))

    # ---- tags
    def create_tag(self, project_id: str, name: str, description: str | None, tag_type: str | None) -> sqlite3.Row:
        self.project(project_id)
        name = (name or "").strip()
        if not name or len(name) > MAX_TAG_NAME:
            raise errors.bad_request(f"A tag name must be 1 to {MAX_TAG_NAME} characters.", "BadRequestTagName")
        check_description(description, "BadRequestTagDescription")
        tag_type = tag_type or "Regular"
        if tag_type not in TAG_TYPES:
            raise errors.bad_request(f"Unknown tag type '{tag_type}'; use one of {', '.join(TAG_TYPES)}.",
                                     "BadRequestTagType")
        tid = new_id()
        with self.db.transaction() as c:
            if c.execute("SELECT 1 FROM tags WHERE project_id = ? AND name = ?", (project_id, name)).fetchone():
                raise errors.bad_request(f"A tag named '{name}' already exists in this project.",
                                         "BadRequestTagNameNotUnique")
            c.execute("INSERT INTO tags (id, project_id, name, description, type, created) VALUES (?,?,?,?,?,?)",
                      (tid, project_id, name, description, tag_type, utcnow()))
            self.touch_project(c, project_id)
        return self.tag(project_id, tid)

    _TAG_SELECT = ("SELECT t.*, (SELECT COUNT(*) FROM image_tags it WHERE it.tag_id = t.id) AS image_count "
                   "FROM tags t")

    def tags(self, project_id: str) -> list[sqlite3.Row]:
        self.project(project_id)
        return self.db.query(self._TAG_SELECT + " WHERE t.project_id = ? ORDER BY t.created, t.rowid", (project_id,))

    def tag(self, project_id: str, tag_id: str) -> sqlite3.Row:
        self.project(project_id)
        row = self.db.query_one(self._TAG_SELECT + " WHERE t.project_id = ? AND t.id = ?", (project_id, tag_id))
        if row is None:
            raise errors.not_found_tag(tag_id)
        return row

    def update_tag(self, project_id: str, tag_id: str, name: str | None, description: str | None,
                   tag_type: str | None) -> sqlite3.Row:
        current = self.tag(project_id, tag_id)
        if name is not None:
            name = name.strip()
            if name and len(name) > MAX_TAG_NAME:
                raise errors.bad_request(f"A tag name must be 1 to {MAX_TAG_NAME} characters.", "BadRequestTagName")
        check_description(description, "BadRequestTagDescription")
        if tag_type and tag_type not in TAG_TYPES:
            raise errors.bad_request(f"Unknown tag type '{tag_type}'; use one of {', '.join(TAG_TYPES)}.",
                                     "BadRequestTagType")
        with self.db.transaction() as c:
            if name and name != current["name"] and c.execute(
                    "SELECT 1 FROM tags WHERE project_id = ? AND name = ?", (project_id, name)).fetchone():
                raise errors.bad_request(f"A tag named '{name}' already exists in this project.",
                                         "BadRequestTagNameNotUnique")
            c.execute("UPDATE tags SET name = ?, description = ?, type = ? WHERE id = ?",
                      (name or current["name"], current["description"] if description is None else description,
                       tag_type or current["type"], tag_id))
            self.touch_project(c, project_id)
        return self.tag(project_id, tag_id)

    def delete_tag(self, project_id: str, tag_id: str) -> None:
        self.tag(project_id, tag_id)
        with self.db.transaction() as c:
            c.execute("DELETE FROM tags WHERE id = ?", (tag_id,))
            self.touch_project(c, project_id)

    def require_tags(self, project_id: str, tag_ids: list[str]) -> None:
        known = {r["id"] for r in self.db.query("SELECT id FROM tags WHERE project_id = ?", (project_id,))}
        for tid in tag_ids:
            if tid not in known:
                raise errors.not_found_tag(tid)

    # ---- images
    def add_images(self, project_id: str, entries: list[tuple[NewImage, list[str]]],
                   metadata: dict[str, str] | None) -> list[tuple[sqlite3.Row, bool]]:
        """Insert images (their blobs are already durable); one transaction for the batch.

        Returns (image row, duplicate) per entry; a duplicate keeps its row and gains any new tags.
        """
        now, results = utcnow(), []
        meta_json = json.dumps(metadata or {})
        with self.db.transaction() as c:
            seq = c.execute("SELECT COALESCE(MAX(seq), 0) FROM images WHERE project_id = ?",
                            (project_id,)).fetchone()[0]
            for image, tag_ids in entries:
                row = c.execute("SELECT id FROM images WHERE project_id = ? AND sha256 = ?",
                                (project_id, image.sha256)).fetchone()
                duplicate = row is not None
                if duplicate:
                    image_id = row["id"]
                else:
                    image_id, seq = new_id(), seq + 1
                    c.execute("INSERT INTO images (id, project_id, sha256, width, height, size, metadata, created, "
                              "seq) VALUES (?,?,?,?,?,?,?,?,?)",
                              (image_id, project_id, image.sha256, image.width, image.height, image.size,
                               meta_json, now, seq))
                for tid in tag_ids:
                    c.execute("INSERT OR IGNORE INTO image_tags (image_id, tag_id, created) VALUES (?,?,?)",
                              (image_id, tid, now))
                results.append((image_id, duplicate))
            self.touch_project(c, project_id)
        rows = {r["id"]: r for r in self._image_rows(project_id, [i for i, _ in results])}
        return [(rows[i], dup) for i, dup in results]

    def _image_rows(self, project_id: str, image_ids: list[str]) -> list[sqlite3.Row]:
        if not image_ids:
            return []
        marks = ",".join("?" * len(image_ids))
        return self.db.query(f"SELECT * FROM images WHERE project_id = ? AND id IN ({marks})",
                             [project_id, *image_ids])

    def images(self, project_id: str, tagged: bool | None, tag_ids: list[str] | None = None,
               order_newest: bool = True, take: int = 50, skip: int = 0,
               image_ids: list[str] | None = None) -> list[sqlite3.Row]:
        self.project(project_id)
        sql, params = "SELECT i.* FROM images i WHERE i.project_id = ?", [project_id]
        sql, params = self._filter(sql, params, tagged, tag_ids, image_ids)
        sql += f" ORDER BY i.seq {'DESC' if order_newest else 'ASC'} LIMIT ? OFFSET ?"
        return self.db.query(sql, [*params, take, skip])

    def image_count(self, project_id: str, tagged: bool | None, tag_ids: list[str] | None = None) -> int:
        self.project(project_id)
        sql, params = self._filter("SELECT COUNT(*) FROM images i WHERE i.project_id = ?", [project_id],
                                   tagged, tag_ids, None)
        return self.db.query_one(sql, params)[0]

    @staticmethod
    def _filter(sql, params, tagged, tag_ids, image_ids):
        if tagged is True:
            sql += " AND EXISTS (SELECT 1 FROM image_tags it WHERE it.image_id = i.id)"
        elif tagged is False:
            sql += " AND NOT EXISTS (SELECT 1 FROM image_tags it WHERE it.image_id = i.id)"
        if tag_ids:
            marks = ",".join("?" * len(tag_ids))
            sql += f" AND EXISTS (SELECT 1 FROM image_tags it WHERE it.image_id = i.id AND it.tag_id IN ({marks}))"
            params = [*params, *tag_ids]
        if image_ids:
            marks = ",".join("?" * len(image_ids))
            sql += f" AND i.id IN ({marks})"
            params = [*params, *image_ids]
        return sql, params

    def image_tags(self, image_ids: list[str]) -> dict[str, list[sqlite3.Row]]:
        out: dict[str, list[sqlite3.Row]] = {i: [] for i in image_ids}
        if not image_ids:
            return out
        marks = ",".join("?" * len(image_ids))
        for r in self.db.query(f"SELECT it.image_id, it.tag_id, it.created, t.name FROM image_tags it "
                               f"JOIN tags t ON t.id = it.tag_id WHERE it.image_id IN ({marks}) "
                               f"ORDER BY t.created", image_ids):
            out[r["image_id"]].append(r)
        return out

    def image(self, project_id: str, image_id: str) -> sqlite3.Row:
        rows = self._image_rows(project_id, [image_id])
        if not rows:
            raise errors.not_found_image(image_id)
        return rows[0]

    def image_by_id(self, image_id: str) -> sqlite3.Row | None:
        return self.db.query_one("SELECT * FROM images WHERE id = ?", (image_id,))

    def delete_images(self, project_id: str, image_ids: list[str] | None) -> None:
        self.project(project_id)
        with self.db.transaction() as c:
            if image_ids is None:
                c.execute("DELETE FROM images WHERE project_id = ?", (project_id,))
            else:
                marks = ",".join("?" * len(image_ids))
                c.execute(f"DELETE FROM images WHERE project_id = ? AND id IN ({marks})", [project_id, *image_ids])
            self.touch_project(c, project_id)

    def update_image_metadata(self, project_id: str, image_ids: list[str],
                              metadata: dict[str, str]) -> list[tuple[str, str, dict]]:
        """Merge metadata into each image; returns (image id, status, metadata) per id (ErrorLimitExceed: the
        image would have more than 10 pairs)."""
        self.project(project_id)
        check_metadata(metadata)
        results = []
        with self.db.transaction() as c:
            for image_id in image_ids:
                row = c.execute("SELECT metadata FROM images WHERE project_id = ? AND id = ?",
                                (project_id, image_id)).fetchone()
                if row is None:
                    results.append((image_id, "ErrorImageNotFound", {}))
                    continue
                merged = {**json.loads(row["metadata"]), **metadata}
                if len(merged) > MAX_METADATA_PAIRS:
                    results.append((image_id, "ErrorLimitExceed", json.loads(row["metadata"])))
                    continue
                c.execute("UPDATE images SET metadata = ? WHERE id = ?", (json.dumps(merged), image_id))
                results.append((image_id, "OK", merged))
        return results

    def add_image_tags(self, project_id: str, pairs: list[tuple[str, str]]) -> tuple[list, list]:
        """Tag existing images; returns (created, duplicated) (image id, tag id) pairs."""
        self.project(project_id)
        created, duplicated, now = [], [], utcnow()
        with self.db.transaction() as c:
            for image_id, tag_id in pairs:
                if not c.execute("SELECT 1 FROM images WHERE project_id = ? AND id = ?",
                                 (project_id, image_id)).fetchone():
                    raise errors.not_found_image(image_id)
                if not c.execute("SELECT 1 FROM tags WHERE project_id = ? AND id = ?",
                                 (project_id, tag_id)).fetchone():
                    raise errors.not_found_tag(tag_id)
                cur = c.execute("INSERT OR IGNORE INTO image_tags (image_id, tag_id, created) VALUES (?,?,?)",
                                (image_id, tag_id, now))
                (created if cur.rowcount else duplicated).append((image_id, tag_id))
            self.touch_project(c, project_id)
        return created, duplicated

    def remove_image_tags(self, project_id: str, image_ids: list[str], tag_ids: list[str]) -> None:
        self.project(project_id)
        with self.db.transaction() as c:
            for image_id in image_ids:
                for tag_id in tag_ids:
                    c.execute("DELETE FROM image_tags WHERE image_id = ? AND tag_id = ? AND image_id IN "
                              "(SELECT id FROM images WHERE project_id = ?)", (image_id, tag_id, project_id))
            self.touch_project(c, project_id)
