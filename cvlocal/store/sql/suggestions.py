"""The `suggestions` table: what an iteration predicted for an untagged image when suggest_tags_and_regions
asked, kept so query_suggested_images and query_suggested_image_count can filter the untagged images by it."""
from __future__ import annotations

import json
from collections.abc import Sequence

from ..records import SuggestionRecord
from .db import Database, marks
from .predictions import decode_predictions


class SuggestionTables:
    db: Database

    def store_suggestions(self, iteration_id: str, suggestions: Sequence[tuple[str, list[dict], float, str]]) -> None:
        """(image id, predictions highest first, uncertainty, created) per image; a newer suggestion of the same
        iteration for an image replaces the older."""
        with self.db.transaction() as c:
            for image_id, predictions, uncertainty, created in suggestions:
                c.execute("INSERT INTO suggestions (image_id, iteration_id, predictions, uncertainty, created) "
                          "VALUES (?,?,?,?,?) ON CONFLICT (image_id, iteration_id) DO UPDATE SET "
                          "predictions = excluded.predictions, uncertainty = excluded.uncertainty, "
                          "created = excluded.created",
                          (image_id, iteration_id, json.dumps(predictions), uncertainty, created))

    def _matching(self, project_id: str, iteration_id: str, tag_ids: Sequence[str],
                  threshold: float) -> tuple[str, list]:
        """(FROM ... WHERE of the project's untagged images with a suggestion of the iteration for any of
        `tag_ids` (any tag when empty) at `threshold` or more, its parameters)."""
        sql = ("FROM suggestions s JOIN images i ON i.id = s.image_id WHERE i.project_id = ? AND s.iteration_id = ? "
               "AND NOT EXISTS (SELECT 1 FROM image_tags it WHERE it.image_id = i.id) AND EXISTS (SELECT 1 FROM "
               f"{self.db.json_elements('s.predictions', 'e')} WHERE "
               f"{self.db.json_number('e.value', 'probability')} >= ?")
        params: list = [project_id, iteration_id, threshold]
        if tag_ids:
            sql += f" AND {self.db.json_text('e.value', 'tagId')} IN ({marks(tag_ids)})"
            params += list(tag_ids)
        return sql + ")", params

    def suggested_images(self, project_id: str, iteration_id: str, tag_ids: Sequence[str], threshold: float,
                         most_uncertain_first: bool, skip: int, take: int) -> list[SuggestionRecord]:
        self.iteration(project_id, iteration_id)
        where, params = self._matching(project_id, iteration_id, tag_ids, threshold)
        found = self.db.query(f"SELECT i.id AS image_id, s.predictions, s.uncertainty, s.created {where} ORDER BY "
                              f"s.uncertainty {'DESC' if most_uncertain_first else 'ASC'}, i.id LIMIT ? OFFSET ?",
                              [*params, take, skip])
        images = {i.id: i for i in self._with_tags(self._image_rows(project_id, [r["image_id"] for r in found]))}
        return [SuggestionRecord(images[r["image_id"]], iteration_id, decode_predictions(r["predictions"]),
                                 r["uncertainty"], r["created"]) for r in found]

    def suggested_counts(self, project_id: str, iteration_id: str, tag_ids: Sequence[str],
                         threshold: float) -> dict[str, int]:
        """Per tag, how many untagged images have a suggestion of it at `threshold` or more."""
        self.iteration(project_id, iteration_id)
        counts = {}
        for tag_id in tag_ids:
            where, params = self._matching(project_id, iteration_id, [tag_id], threshold)
            counts[tag_id] = self.db.query_one(f"SELECT COUNT(*) {where}", params)[0]
        return counts
