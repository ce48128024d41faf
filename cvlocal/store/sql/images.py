"""The `images` and `image_tags` tables; images as an iteration trained on them come from its training set (and,
for object detection, the regions it trained on)."""
from __future__ import annotations

import json
from collections.abc import Mapping

from ... import errors
from ..records import ImageQuery, ImageRecord, ImageTagRecord, MetadataUpdate, NewImage, RegionRecord
from . import rows
from .db import Database, marks, new_id, utcnow


class ImageTables:
    db: Database

    def add_images(self, project_id: str, images: list[NewImage], metadata: Mapping[str, str] | None,
                   max_images: int | None = None, max_regions: int | None = None
                   ) -> list[tuple[ImageRecord | None, bool]]:
        """Insert images (their blobs are already durable); one transaction for the batch. A duplicate (same
        bytes) keeps its row and gains any new tags and regions (none of its new regions when they would take it
        past `max_regions`: its record then lacks them): the unique index on (project, content hash) decides, so
        two replicas storing the same bytes at once keep one image. A new image past `max_images` in the
        project is not added (its record is None)."""
        now, results = utcnow(), []
        meta_json = json.dumps(dict(metadata or {}))
        with self.db.transaction() as c:
            # `seq` (the listing order) counts up without gaps or ties, and the count sees every image added
            # before this batch, on any replica
            self.db.lock_project(c, project_id)
            seq, held = c.execute("SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM images WHERE project_id = ?",
                                  (project_id,)).fetchone()
            for image in images:
                inserted = None
                if max_images is None or held < max_images:
                    inserted = c.execute("INSERT INTO images (id, project_id, sha256, width, height, size, "
                                         "metadata, created, seq) VALUES (?,?,?,?,?,?,?,?,?) "
                                         "ON CONFLICT (project_id, sha256) DO NOTHING RETURNING id",
                                         (new_id(), project_id, image.sha256, image.width, image.height,
                                          image.size, meta_json, now, seq + 1)).fetchone()
                duplicate = inserted is None
                if duplicate:
                    kept = c.execute("SELECT id FROM images WHERE project_id = ? AND sha256 = ?",
                                     (project_id, image.sha256)).fetchone()
                    if kept is None:  # new, and the project holds `max_images` already
                        results.append((None, False))
                        continue
                    image_id = kept["id"]
                else:
                    image_id, seq, held = inserted["id"], seq + 1, held + 1
                for tid in image.tag_ids:
                    c.execute("INSERT INTO image_tags (image_id, tag_id, created) VALUES (?,?,?) "
                              "ON CONFLICT DO NOTHING", (image_id, tid, now))
                self._add_image_regions(c, image_id, image.regions, now, max_regions)
                results.append((image_id, duplicate))
            self.touch_project(c, project_id)
        found = {r.id: r for r in self._with_tags(self._image_rows(project_id, [i for i, _ in results if i]))}
        return [(found[i] if i else None, duplicate) for i, duplicate in results]

    def images(self, project_id: str, query: ImageQuery) -> list[ImageRecord]:
        self.project(project_id)
        where, params, trained = self._where(project_id, query)
        listed = self.db.query(f"SELECT i.* FROM images i WHERE {where} ORDER BY i.seq "
                               f"{'DESC' if query.newest_first else 'ASC'} LIMIT ? OFFSET ?",
                               [*params, query.take, query.skip])
        if trained is None:
            return self._with_tags(listed)
        created, names, snapshot = trained
        tagged_at = {(t.tag_id, image_id): t.created for image_id, tags in self._image_tags(
            [r["id"] for r in listed]).items() for t in tags}
        boxes = self.trained_regions(project_id, query.iteration_id)
        boxed_at = {region.id: region.created for found in self._image_regions([r["id"] for r in listed]).values()
                    for region in found}
        return [rows.image(r, tuple(ImageTagRecord(tid, names.get(tid, ""), tagged_at.get((tid, r["id"]), created))
                                    for tid in snapshot.get(r["sha256"], ())),
                           tuple(RegionRecord(rid, tid, names.get(tid, ""), left, top, width, height,
                                              boxed_at.get(rid, created))
                                 for rid, tid, left, top, width, height in boxes.get(r["sha256"], ())))
                for r in listed]

    def image_count(self, project_id: str, query: ImageQuery) -> int:
        self.project(project_id)
        where, params, _ = self._where(project_id, query)
        return self.db.query_one(f"SELECT COUNT(*) FROM images i WHERE {where}", params)[0]

    def _where(self, project_id: str, query: ImageQuery):
        """(WHERE clause, its parameters, the iteration's (created, tag names, training set) or None)."""
        sql, params, trained = "i.project_id = ?", [project_id], None
        if query.iteration_id:
            created, refs, entries = self.trained_on(project_id, query.iteration_id)
            snapshot = dict(entries)
            wanted = set(query.tag_ids)
            # An iteration trains on tagged images only: none of its images is untagged.
            shas = [] if query.tagged is False else [sha for sha, tids in entries if not wanted or wanted & set(tids)]
            sql += f" AND i.sha256 IN ({self.db.json_strings()})"
            params.append(json.dumps(shas))
            trained = (created, dict(refs), snapshot)
        else:
            if query.tagged is True:
                sql += " AND EXISTS (SELECT 1 FROM image_tags it WHERE it.image_id = i.id)"
            elif query.tagged is False:
                sql += " AND NOT EXISTS (SELECT 1 FROM image_tags it WHERE it.image_id = i.id)"
            if query.tag_ids:
                sql += (" AND EXISTS (SELECT 1 FROM image_tags it WHERE it.image_id = i.id AND it.tag_id IN "
                        f"({marks(query.tag_ids)}))")
                params += query.tag_ids
        if query.image_ids is not None:
            sql += f" AND i.id IN ({marks(query.image_ids)})"
            params += query.image_ids
        return sql, params, trained

    def _image_rows(self, project_id: str, image_ids: list[str]):
        if not image_ids:
            return []
        return self.db.query(f"SELECT * FROM images WHERE project_id = ? AND id IN ({marks(image_ids)})",
                             [project_id, *image_ids])

    def _with_tags(self, image_rows) -> list[ImageRecord]:
        """Records with their tags and regions."""
        ids = [r["id"] for r in image_rows]
        tags, regions = self._image_tags(ids), self._image_regions(ids)
        return [rows.image(r, tuple(tags[r["id"]]), tuple(regions[r["id"]])) for r in image_rows]

    def _image_tags(self, image_ids: list[str]) -> dict[str, list[ImageTagRecord]]:
        out: dict[str, list[ImageTagRecord]] = {i: [] for i in image_ids}
        if image_ids:
            for r in self.db.query(f"SELECT it.image_id, it.tag_id, it.created, t.name FROM image_tags it "
                                   f"JOIN tags t ON t.id = it.tag_id WHERE it.image_id IN ({marks(image_ids)}) "
                                   f"ORDER BY t.created", image_ids):
                out[r["image_id"]].append(rows.image_tag(r))
        return out

    def image_by_id(self, image_id: str) -> ImageRecord | None:
        """The image alone (its bytes' digest and size, for downloads): no tags or regions."""
        row = self.db.query_one("SELECT * FROM images WHERE id = ?", (image_id,))
        return rows.image(row) if row is not None else None

    def image(self, project_id: str, image_id: str) -> ImageRecord:
        """One image of the project with its tags and regions (NotFoundProject, NotFoundImage)."""
        self.project(project_id)
        found = self._with_tags(self._image_rows(project_id, [image_id]))
        if not found:
            raise errors.not_found_image(image_id)
        return found[0]

    def delete_images(self, project_id: str, image_ids: list[str] | None) -> None:
        self.project(project_id)
        with self.db.transaction() as c:
            if image_ids is None:
                c.execute("DELETE FROM images WHERE project_id = ?", (project_id,))
            else:
                c.execute(f"DELETE FROM images WHERE project_id = ? AND id IN ({marks(image_ids)})",
                          [project_id, *image_ids])
            self.touch_project(c, project_id)

    def update_image_metadata(self, project_id: str, image_ids: list[str], metadata: Mapping[str, str],
                              max_pairs: int) -> list[MetadataUpdate]:
        """Merge metadata into each image (ErrorLimitExceed: it would have more than `max_pairs` pairs)."""
        self.project(project_id)
        results = []
        with self.db.transaction() as c:
            self.db.lock_project(c, project_id)  # merges read, then write: one at a time
            for image_id in image_ids:
                row = c.execute("SELECT metadata FROM images WHERE project_id = ? AND id = ?",
                                (project_id, image_id)).fetchone()
                if row is None:
                    results.append(MetadataUpdate(image_id, "ErrorImageNotFound", {}))
                    continue
                kept = json.loads(row["metadata"])
                merged = {**kept, **metadata}
                if len(merged) > max_pairs:
                    results.append(MetadataUpdate(image_id, "ErrorLimitExceed", kept))
                    continue
                c.execute("UPDATE images SET metadata = ? WHERE id = ?", (json.dumps(merged), image_id))
                results.append(MetadataUpdate(image_id, "OK", merged))
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
                cur = c.execute("INSERT INTO image_tags (image_id, tag_id, created) VALUES (?,?,?) "
                                "ON CONFLICT DO NOTHING", (image_id, tag_id, now))
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
