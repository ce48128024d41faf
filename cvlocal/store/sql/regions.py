"""The `regions` table: the boxes of object detection images, and the image tags that follow from them.

An object detection image is tagged by its regions: every write of a region keeps `image_tags` in step (a row
per tag the image has a region of), in the same transaction, so listings, tag filters and tags' image counts
read one table for both project types. Boxes arrive checked (api/schemas/regions.py): normalised to the image as
displayed, inside it, with a positive size.
"""
from __future__ import annotations

from collections.abc import Sequence

from ... import errors
from ..records import NewRegion, RegionEntry, RegionRecord, RegionsAdded
from . import rows
from .db import Database, Transaction, marks, new_id, utcnow

_SELECT = "SELECT r.*, t.name FROM regions r JOIN tags t ON t.id = r.tag_id"


class RegionTables:
    db: Database

    def add_regions(self, project_id: str, entries: list[RegionEntry], max_per_image: int) -> RegionsAdded:
        """create_image_regions: one transaction. An unknown image or tag refuses the whole batch (NotFoundImage,
        NotFoundTag) and writes nothing; otherwise each entry is created, a duplicate of a region the image has
        (or an earlier entry gave it), or exceeded (the image holds `max_per_image` regions)."""
        self.project(project_id)
        created, duplicated, exceeded = [], [], []
        now = utcnow()
        with self.db.transaction() as c:
            self.db.lock_project(c, project_id)  # counts and duplicates see every region written before
            images = {e.image_id for e in entries}
            tags = {e.region.tag_id for e in entries}
            known_images = self._ids(c, "SELECT id FROM images WHERE project_id = ? AND id IN ({})", project_id, images)
            known_tags = self._ids(c, "SELECT id FROM tags WHERE project_id = ? AND id IN ({})", project_id, tags)
            for entry in entries:  # in the batch's order, so the first unknown id is the one named
                if entry.image_id not in known_images:
                    raise errors.not_found_image(entry.image_id)
                if entry.region.tag_id not in known_tags:
                    raise errors.not_found_tag(entry.region.tag_id)
            held = {i: self._held(c, i) for i in images}
            for entry in entries:
                keys = held[entry.image_id]
                if entry.region.key() in keys:
                    duplicated.append(entry)
                elif len(keys) >= max_per_image:
                    exceeded.append(entry)
                else:
                    region_id = self._insert(c, entry.image_id, entry.region, now)
                    keys.add(entry.region.key())
                    created.append((entry, region_id))
            if created:
                self.touch_project(c, project_id)
        records = {r.id: r for r in self._regions_by_id([rid for _, rid in created])}
        return RegionsAdded(tuple((e, records[rid]) for e, rid in created), tuple(duplicated), tuple(exceeded))

    def delete_regions(self, project_id: str, region_ids: list[str]) -> None:
        """delete_image_regions: the project's regions among these ids (unknown ids are already gone), and the
        image tags no region carries any more."""
        self.project(project_id)
        if not region_ids:
            return
        with self.db.transaction() as c:
            self.db.lock_project(c, project_id)
            doomed = c.execute(f"SELECT r.id, r.image_id, r.tag_id FROM regions r JOIN images i ON i.id = r.image_id "
                               f"WHERE i.project_id = ? AND r.id IN ({marks(region_ids)})",
                               [project_id, *region_ids]).fetchall()
            if not doomed:
                return
            c.execute(f"DELETE FROM regions WHERE id IN ({marks(doomed)})", [r["id"] for r in doomed])
            for image_id, tag_id in {(r["image_id"], r["tag_id"]) for r in doomed}:
                c.execute("DELETE FROM image_tags WHERE image_id = ? AND tag_id = ? AND NOT EXISTS "
                          "(SELECT 1 FROM regions WHERE image_id = ? AND tag_id = ?)",
                          (image_id, tag_id, image_id, tag_id))
            self.touch_project(c, project_id)

    # ---- used by the image tables
    def _add_image_regions(self, c: Transaction, image_id: str, regions: Sequence[NewRegion], now: str,
                           max_per_image: int | None) -> None:
        """An uploaded image's regions, all or none: none when they would take it past `max_per_image` (a
        duplicate upload of an image that has regions already); regions it has already are skipped."""
        if not regions:
            return
        keys = self._held(c, image_id)
        fresh = list({r.key(): r for r in regions if r.key() not in keys}.values())
        if max_per_image is not None and len(keys) + len(fresh) > max_per_image:
            return
        for region in fresh:
            self._insert(c, image_id, region, now)

    def _image_regions(self, image_ids: list[str]) -> dict[str, list[RegionRecord]]:
        out: dict[str, list[RegionRecord]] = {i: [] for i in image_ids}
        if image_ids:
            for r in self.db.query(_SELECT + f" WHERE r.image_id IN ({marks(image_ids)}) ORDER BY r.created, r.id",
                                   image_ids):
                out[r["image_id"]].append(rows.region(r))
        return out

    # ---- helpers
    def _regions_by_id(self, region_ids: list[str]) -> list[RegionRecord]:
        if not region_ids:
            return []
        return [rows.region(r) for r in self.db.query(_SELECT + f" WHERE r.id IN ({marks(region_ids)})", region_ids)]

    @staticmethod
    def _ids(c: Transaction, sql: str, project_id: str, ids: set[str]) -> set[str]:
        if not ids:
            return set()
        return {r[0] for r in c.execute(sql.format(marks(ids)), [project_id, *ids]).fetchall()}

    @staticmethod
    def _held(c: Transaction, image_id: str) -> set[tuple]:
        """The keys (NewRegion.key) of the regions an image has."""
        return {NewRegion(r["tag_id"], r["box_left"], r["box_top"], r["box_width"], r["box_height"]).key()
                for r in c.execute("SELECT tag_id, box_left, box_top, box_width, box_height FROM regions "
                                   "WHERE image_id = ?", (image_id,)).fetchall()}

    @staticmethod
    def _insert(c: Transaction, image_id: str, region: NewRegion, now: str) -> str:
        region_id = new_id()
        c.execute("INSERT INTO regions (id, image_id, tag_id, box_left, box_top, box_width, box_height, created) "
                  "VALUES (?,?,?,?,?,?,?,?)",
                  (region_id, image_id, region.tag_id, region.left, region.top, region.width, region.height, now))
        c.execute("INSERT INTO image_tags (image_id, tag_id, created) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                  (image_id, region.tag_id, now))
        return region_id

