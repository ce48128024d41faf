"""The `project_exports` table: projects as exported (export_project), and a whole project made from one in a
single transaction (import_project).

An export keeps the project as it was (settings, tags, images with their tags and metadata, in the format of
store/exported.py) until its token expires, and its row names the images' blobs, so garbage collection keeps
them for as long as the token works, even when the project's images are deleted meanwhile. Deleting the
project deletes its exports: a token stops working with the project it copies.
"""
from __future__ import annotations

import json
import time

from ... import errors
from ..exported import MAX_NAME, VERSION, from_parts, images_part, project_part, tags_part
from ..records import ExportedImage, ExportedProject, ExportedTag, ProjectExportRecord, ProjectRecord
from . import rows
from .db import Database, Transaction, new_id, utcnow


class ProjectExportTables:
    db: Database

    def create_project_export(self, project_id: str, lifetime_s: float) -> ProjectExportRecord:
        """The project as it is now, kept for `lifetime_s`; refused while it trains, as Azure refuses."""
        self.project(project_id)
        export_id, now, expires = new_id(), utcnow(), time.time() + lifetime_s
        with self.db.transaction() as c:
            self.db.lock_project(c, project_id)  # a training cannot start meanwhile (create_iteration locks it too)
            if c.execute("SELECT 1 FROM iterations WHERE project_id = ? AND status = 'Training'",
                         (project_id,)).fetchone():
                raise errors.bad_request("The project is training; export it once the training has finished.",
                                         "BadRequestExportWhileTraining")
            exported = self._exported(c, project_id)
            c.execute("INSERT INTO project_exports (id, project_id, version, project, tags, snapshot, created, "
                      "expires) VALUES (?,?,?,?,?,?,?,?)",
                      (export_id, project_id, VERSION, json.dumps(project_part(exported)),
                       json.dumps(tags_part(exported)), json.dumps(images_part(exported)), now, expires))
        return ProjectExportRecord(export_id, project_id, exported, now, expires)

    @staticmethod
    def _exported(c: Transaction, project_id: str) -> ExportedProject:
        project = rows.project(c.execute("SELECT * FROM projects WHERE id = ?", (project_id,)).fetchone())
        tags = tuple(ExportedTag(r["id"], r["name"], r["description"], r["type"], r["created"]) for r in c.execute(
            "SELECT id, name, description, type, created FROM tags WHERE project_id = ? ORDER BY created, id",
            (project_id,)).fetchall())
        images = c.execute("SELECT id, sha256, width, height, size, metadata, created FROM images "
                           "WHERE project_id = ? ORDER BY seq", (project_id,)).fetchall()
        # Read last and kept to the tags and images read above: on PostgreSQL each statement sees its own moment,
        # so a tag or image added between the reads is left out whole rather than half.
        known = {t.key for t in tags}
        tagged: dict[str, list[str]] = {}
        for r in c.execute("SELECT it.image_id, it.tag_id FROM image_tags it JOIN images i ON i.id = it.image_id "
                           "WHERE i.project_id = ? ORDER BY it.created, it.tag_id", (project_id,)).fetchall():
            if r["tag_id"] in known:
                tagged.setdefault(r["image_id"], []).append(r["tag_id"])
        # Object detection plugs in here: read the project's regions and give each image its ExportedRegions.
        return ExportedProject(
            name=project.name, description=project.description, domain_id=project.domain_id,
            classification_type=project.classification_type,
            target_export_platforms=project.target_export_platforms, tags=tags,
            images=tuple(ExportedImage(r["sha256"], r["width"], r["height"], r["size"], json.loads(r["metadata"]),
                                       r["created"], tuple(tagged.get(r["id"], ()))) for r in images))

    def project_export(self, export_id: str) -> ProjectExportRecord | None:
        """The export a token names, while the token lasts (None: expired, or its project deleted)."""
        row = self.db.query_one("SELECT * FROM project_exports WHERE id = ? AND expires > ?", (export_id, time.time()))
        if row is None:
            return None
        return ProjectExportRecord(row["id"], row["project_id"],
                                   from_parts(row["version"], row["project"], row["tags"], row["snapshot"]),
                                   row["created"], row["expires"])

    def import_project(self, exported: ProjectExportRecord | ExportedProject, name: str | None,
                       max_projects: int | None = None, max_tags: int | None = None,
                       max_images: int | None = None) -> ProjectRecord:
        """A new project with the exported settings, tags and images, in one transaction: it is there whole or
        not at all, whatever stops the service. `exported` is this store's own export (checked again in the
        transaction: it must not have expired) or one read from another service (its blobs already put here).
        `name` None: the exported name, or, when a project has it, the first of "NAME (2)", "NAME (3)", ... free."""
        own = exported if isinstance(exported, ProjectExportRecord) else None
        project = own.project if own else exported
        self.check_import_fits(project, max_tags, max_images)
        pid, now = new_id(), utcnow()
        with self.db.transaction() as c:
            self.db.lock_projects(c)  # the name and the project count below see every project made before this one
            if own and not c.execute("SELECT 1 FROM project_exports WHERE id = ? AND expires > ?",
                                     (own.id, time.time())).fetchone():
                raise errors.invalid_import_token("it has expired, or the exported project was deleted")
            name = self._free_name(c, project.name) if name is None else name
            self._require_unique_name(c, name)
            if max_projects is not None and \
                    c.execute("SELECT COUNT(*) FROM projects").fetchone()[0] >= max_projects:
                raise errors.bad_request(f"This resource's pricing tier allows {max_projects} projects and has them "
                                         "all; delete a project first.", "BadRequestExceedProjectLimit")
            c.execute("INSERT INTO projects (id, name, description, domain_id, classification_type, "
                      "target_export_platforms, created, last_modified) VALUES (?,?,?,?,?,?,?,?)",
                      (pid, name, project.description, project.domain_id, project.classification_type,
                       json.dumps(list(project.target_export_platforms)), now, now))
            tag_ids = {t.key: new_id() for t in project.tags}
            c.executemany("INSERT INTO tags (id, project_id, name, description, type, created) VALUES (?,?,?,?,?,?)",
                          [(tag_ids[t.key], pid, t.name, t.description, t.type, t.created) for t in project.tags])
            image_ids = [new_id() for _ in project.images]
            c.executemany("INSERT INTO images (id, project_id, sha256, width, height, size, metadata, created, seq) "
                          "VALUES (?,?,?,?,?,?,?,?,?)",
                          [(iid, pid, i.sha256, i.width, i.height, i.size, json.dumps(dict(i.metadata)), i.created,
                            seq) for seq, (iid, i) in enumerate(zip(image_ids, project.images), start=1)])
            c.executemany("INSERT INTO image_tags (image_id, tag_id, created) VALUES (?,?,?)",
                          [(iid, tag_ids[key], now) for iid, i in zip(image_ids, project.images) for key in i.tag_keys])
        return self.project(pid)

    @staticmethod
    def check_import_fits(project: ExportedProject, max_tags: int | None, max_images: int | None) -> None:
        """Refuse, as Azure does, an exported project that a project here cannot hold."""
        if project.region_count:  # object detection plugs in here: insert the regions with the images
            raise errors.not_supported("The exported project has object detection regions, which this service "
                                       "cannot import yet.")
        if max_tags is not None and len(project.tags) > max_tags:
            raise errors.bad_request(f"The exported project has {len(project.tags)} tags; this resource's pricing "
                                     f"tier allows {max_tags} per project.", "BadRequestExceedTagPerProjectLimit")
        if max_images is not None and len(project.images) > max_images:
            raise errors.bad_request(f"The exported project has {len(project.images):,} images; this resource's "
                                     f"pricing tier allows {max_images:,} per project.", "BadRequestImageExceededCount")

    def project_export_has_image(self, export_id: str, sha256: str) -> bool:
        """Whether an unexpired export names this image (what its token may fetch)."""
        images = self.db.json_elements("project_exports.snapshot", "e")
        return self.db.query_one(f"SELECT 1 FROM project_exports, {images} WHERE project_exports.id = ? AND "
                                 f"project_exports.expires > ? AND {self.db.json_text('e.value', 'sha256')} = ?",
                                 (export_id, time.time(), sha256)) is not None

    @staticmethod
    def _free_name(c: Transaction, name: str) -> str:
        for number in range(1, 1000):
            suffix = f" ({number})" if number > 1 else ""
            candidate = name[:MAX_NAME - len(suffix)] + suffix
            if not c.execute("SELECT 1 FROM projects WHERE name = ?", (candidate,)).fetchone():
                return candidate
        return name  # a thousand copies: refused as a name that exists
