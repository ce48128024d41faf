"""The `predictions` table: predictions kept by the storing prediction routes (the image is a blob)."""
from __future__ import annotations

import json

from ..records import PredictedTag, PredictionFilter, StoredPredictionRecord
from .db import Database, marks

_SELECT = ("SELECT p.id, p.project_id, p.iteration_id, p.application, p.sha256, p.predictions, p.created, "
           "COALESCE(it.domain_id, pr.domain_id) AS domain_id FROM predictions p "
           "JOIN projects pr ON pr.id = p.project_id LEFT JOIN iterations it ON it.id = p.iteration_id")


def _order(db: Database, order: str) -> tuple[str, str]:
    """(sort key, direction): keys and ids run the same way, so one row-value comparison continues a listing.
    "suggested" sorts by each prediction's highest probability (the predictions column is a JSON list of
    {tagId, probability, ...})."""
    if order == "suggested":
        return (f"(SELECT MAX({db.json_number('e.value', 'probability')}) FROM "
                f"{db.json_elements('p.predictions', 'e')})", "ASC")
    return "p.created", "DESC" if order == "newest" else "ASC"


def _box(box: dict | None) -> tuple[float, float, float, float] | None:
    return None if not box else (box["left"], box["top"], box["width"], box["height"])


def decode_predictions(stored: str) -> tuple[PredictedTag, ...]:
    """A predictions column: [{tagId, tagName, tagType, probability, boundingBox}, ...] as records."""
    return tuple(PredictedTag(p["tagId"], p["tagName"], p.get("tagType") or "Regular", float(p["probability"]),
                              _box(p.get("boundingBox"))) for p in json.loads(stored))


def _record(row) -> StoredPredictionRecord:
    return StoredPredictionRecord(
        id=row["id"], project_id=row["project_id"], iteration_id=row["iteration_id"],
        application=row["application"], sha256=row["sha256"], created=row["created"], domain_id=row["domain_id"],
        predictions=decode_predictions(row["predictions"]))


class PredictionTables:
    db: Database

    def store_prediction(self, prediction_id: str, project_id: str, iteration_id: str, application: str | None,
                         sha256: str, predictions: list[dict], created: str) -> None:
        with self.db.transaction() as c:
            c.execute("INSERT INTO predictions (id, project_id, iteration_id, application, sha256, predictions, "
                      "created) VALUES (?,?,?,?,?,?,?)",
                      (prediction_id, project_id, iteration_id, application, sha256, json.dumps(predictions),
                       created))

    def query_predictions(self, project_id: str, query: PredictionFilter) -> list[StoredPredictionRecord]:
        self.project(project_id)
        sql, params = [_SELECT + " WHERE p.project_id = ?"], [project_id]
        for clause, value in (("p.iteration_id = ?", query.iteration_id), ("p.application = ?", query.application),
                              ("p.created >= ?", query.start), ("p.created <= ?", query.end)):
            if value is not None:
                sql.append("AND " + clause)
                params.append(value)
        for tag_id, lowest, highest in query.tags:
            sql.append(f"AND EXISTS (SELECT 1 FROM {self.db.json_elements('p.predictions', 'e')} WHERE "
                       f"{self.db.json_text('e.value', 'tagId')} = ? AND "
                       f"{self.db.json_number('e.value', 'probability')} BETWEEN ? AND ?)")
            params += [tag_id, lowest, highest]
        key, direction = _order(self.db, query.order)
        if query.after is not None:
            sql.append(f"AND ({key}, p.id) {'<' if direction == 'DESC' else '>'} (?, ?)")
            params += list(query.after)
        sql.append(f"ORDER BY {key} {direction}, p.id {direction} LIMIT ?")
        params.append(query.limit)
        return [_record(r) for r in self.db.query(" ".join(sql), params)]

    def predictions_by_ids(self, project_id: str, prediction_ids: list[str]) -> list[StoredPredictionRecord]:
        """The project's stored predictions among these ids (unknown ids are left out)."""
        self.project(project_id)
        if not prediction_ids:
            return []
        return [_record(r) for r in self.db.query(_SELECT + f" WHERE p.project_id = ? AND p.id IN "
                                                  f"({marks(prediction_ids)})", [project_id, *prediction_ids])]

    def prediction_by_id(self, prediction_id: str) -> StoredPredictionRecord | None:
        row = self.db.query_one(_SELECT + " WHERE p.id = ?", (prediction_id,))
        return _record(row) if row is not None else None

    def delete_predictions(self, project_id: str, prediction_ids: list[str]) -> None:
        """Deletes those of the project's stored predictions; unknown ids are no error (already gone)."""
        self.project(project_id)
        if not prediction_ids:
            return
        with self.db.transaction() as c:
            c.execute(f"DELETE FROM predictions WHERE project_id = ? AND id IN ({marks(prediction_ids)})",
                      [project_id, *prediction_ids])
