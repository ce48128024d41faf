"""The `predictions` table: predictions kept by the storing prediction routes (the image is a blob)."""
from __future__ import annotations

import json

from .db import Database


class PredictionTables:
    db: Database

    def store_prediction(self, prediction_id: str, project_id: str, iteration_id: str, application: str | None,
                         sha256: str, predictions: list[dict], created: str) -> None:
        with self.db.transaction() as c:
            c.execute("INSERT INTO predictions (id, project_id, iteration_id, application, sha256, predictions, "
                      "created) VALUES (?,?,?,?,?,?,?)",
                      (prediction_id, project_id, iteration_id, application, sha256, json.dumps(predictions),
                       created))
