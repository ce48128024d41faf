"""The `projects` table."""
from __future__ import annotations

import json

from ... import errors
from ..records import ProjectChanges, ProjectRecord
from . import rows
from .db import Database, Transaction, new_id, utcnow


class ProjectTables:
    db: Database

    def create_project(self, name: str, description: str, domain_id: str, classification_type: str,
                       target_export_platforms: tuple[str, ...], max_projects: int | None = None) -> ProjectRecord:
        pid, now = new_id(), utcnow()
        with self.db.transaction() as c:
            self.db.lock_projects(c)  # the count below sees every project created before this one
            self._require_unique_name(c, name)
            if max_projects is not None and \
                    c.execute("SELECT COUNT(*) FROM projects").fetchone()[0] >= max_projects:
                raise errors.bad_request(f"This resource's pricing tier allows {max_projects} projects and has them "
                                         "all; delete a project first.", "BadRequestExceedProjectLimit")
            c.execute("INSERT INTO projects (id, name, description, domain_id, classification_type, "
                      "target_export_platforms, created, last_modified) VALUES (?,?,?,?,?,?,?,?)",
                      (pid, name, description, domain_id, classification_type,
                       json.dumps(list(target_export_platforms)), now, now))
        return self.project(pid)

    def projects(self) -> list[ProjectRecord]:
        return [rows.project(r) for r in self.db.query("SELECT * FROM projects ORDER BY created")]

    def project(self, project_id: str) -> ProjectRecord:
        row = self.db.query_one("SELECT * FROM projects WHERE id = ?", (project_id,))
        if row is None:
            raise errors.not_found_project(project_id)
        return rows.project(row)

    def update_project(self, project_id: str, changes: ProjectChanges) -> ProjectRecord:
        current = self.project(project_id)
        platforms = current.target_export_platforms if changes.target_export_platforms is None \
            else changes.target_export_platforms
        with self.db.transaction() as c:
            if changes.name and changes.name != current.name:
                self._require_unique_name(c, changes.name)
            c.execute("UPDATE projects SET name = ?, description = ?, domain_id = ?, classification_type = ?, "
                      "target_export_platforms = ?, last_modified = ? WHERE id = ?",
                      (changes.name or current.name,
                       current.description if changes.description is None else changes.description,
                       changes.domain_id or current.domain_id,
                       changes.classification_type or current.classification_type,
                       json.dumps(list(platforms)), utcnow(), project_id))
        return self.project(project_id)

    def delete_project(self, project_id: str) -> None:
        self.project(project_id)
        with self.db.transaction() as c:
            self.db.lock_project(c, project_id)
            published = c.execute("SELECT name, publish_name FROM iterations WHERE project_id = ? "
                                  "AND publish_name IS NOT NULL", (project_id,)).fetchone()
            if published:
                raise errors.bad_request(
                    f"{published['name']} is published as '{published['publish_name']}'; unpublish it first.",
                    "BadRequestIterationIsPublished")
            c.execute("DELETE FROM projects WHERE id = ?", (project_id,))

    @staticmethod
    def touch_project(c: Transaction, project_id: str) -> None:
        c.execute("UPDATE projects SET last_modified = ? WHERE id = ?", (utcnow(), project_id))

    @staticmethod
    def _require_unique_name(c: Transaction, name: str) -> None:
        if c.execute("SELECT 1 FROM projects WHERE name = ?", (name,)).fetchone():
            raise errors.bad_request(f"A project named '{name}' already exists.", "BadRequestProjectNameNotUnique")
