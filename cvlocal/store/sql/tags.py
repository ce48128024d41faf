"""The `tags` table; tags as an iteration trained on them come from its recorded tags and training set."""
from __future__ import annotations

from ... import errors
from ..records import TagChanges, TagRecord
from . import rows
from .db import Database, marks, new_id, utcnow

_TAG_SELECT = ("SELECT t.*, (SELECT COUNT(*) FROM image_tags it WHERE it.tag_id = t.id) AS image_count "
               "FROM tags t")


class TagTables:
    db: Database

    def create_tag(self, project_id: str, name: str, description: str | None, tag_type: str,
                   max_tags: int | None = None) -> TagRecord:
        self.project(project_id)
        tid = new_id()
        with self.db.transaction() as c:
            self.db.lock_project(c, project_id)
            self._require_unique_tag_name(c, project_id, name)
            if max_tags is not None and c.execute("SELECT COUNT(*) FROM tags WHERE project_id = ?",
                                                  (project_id,)).fetchone()[0] >= max_tags:
                raise errors.bad_request(f"This resource's pricing tier allows {max_tags} tags per project and this "
                                         "project has them all; delete a tag first.",
                                         "BadRequestExceedTagPerProjectLimit")
            c.execute("INSERT INTO tags (id, project_id, name, description, type, created) VALUES (?,?,?,?,?,?)",
                      (tid, project_id, name, description, tag_type, utcnow()))
            self.touch_project(c, project_id)
        return self.tag(project_id, tid)

    def tags(self, project_id: str, iteration_id: str | None = None) -> list[TagRecord]:
        self.project(project_id)
        if iteration_id:
            return self._iteration_tags(project_id, iteration_id)
        return [rows.tag(r) for r in self.db.query(_TAG_SELECT + " WHERE t.project_id = ? ORDER BY t.created, "
                                                   "t.id", (project_id,))]

    def tag(self, project_id: str, tag_id: str, iteration_id: str | None = None) -> TagRecord:
        self.project(project_id)
        if iteration_id:
            found = [t for t in self._iteration_tags(project_id, iteration_id) if t.id == tag_id]
            if not found:
                raise errors.not_found_tag(tag_id)
            return found[0]
        row = self.db.query_one(_TAG_SELECT + " WHERE t.project_id = ? AND t.id = ?", (project_id, tag_id))
        if row is None:
            raise errors.not_found_tag(tag_id)
        return rows.tag(row)

    def _iteration_tags(self, project_id: str, iteration_id: str) -> list[TagRecord]:
        """The iteration's tags, named as it trained on them, counting the images it trained on. Description,
        type and creation time are the tag's own while it exists."""
        created, refs, snapshot = self.trained_on(project_id, iteration_id)
        counts: dict[str, int] = {}
        for _, tag_ids in snapshot:
            for tag_id in tag_ids:
                counts[tag_id] = counts.get(tag_id, 0) + 1
        current = {r["id"]: r for r in self.db.query(f"SELECT * FROM tags WHERE project_id = ? AND id IN "
                                                     f"({marks(refs)})", [project_id, *(t for t, _ in refs)])}
        out = []
        for tag_id, name in refs:
            now = current.get(tag_id)
            out.append(TagRecord(id=tag_id, project_id=project_id, name=name,
                                 description=now["description"] if now else None,
                                 type=now["type"] if now else "Regular",
                                 created=now["created"] if now else created, image_count=counts.get(tag_id, 0)))
        return out

    def update_tag(self, project_id: str, tag_id: str, changes: TagChanges) -> TagRecord:
        current = self.tag(project_id, tag_id)
        with self.db.transaction() as c:
            self.db.lock_project(c, project_id)
            if changes.name and changes.name != current.name:
                self._require_unique_tag_name(c, project_id, changes.name)
            c.execute("UPDATE tags SET name = ?, description = ?, type = ? WHERE id = ?",
                      (changes.name or current.name,
                       current.description if changes.description is None else changes.description,
                       changes.type or current.type, tag_id))
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

    @staticmethod
    def _require_unique_tag_name(c, project_id: str, name: str) -> None:
        if c.execute("SELECT 1 FROM tags WHERE project_id = ? AND name = ?", (project_id, name)).fetchone():
            raise errors.bad_request(f"A tag named '{name}' already exists in this project.",
                                     "BadRequestTagNameNotUnique")
