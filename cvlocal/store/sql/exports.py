"""The `exports` table: built exports behind their download tokens."""
from __future__ import annotations

import time

from ..records import ExportRecord
from . import rows
from .db import Database, new_id, utcnow


class ExportTables:
    db: Database

    def create_export(self, iteration_id: str, platform: str, flavor: str | None, token: str, blob_digest: str,
                      lifetime_s: float) -> ExportRecord:
        """Record a built export; an earlier export of the same platform and flavor (and its link) is void."""
        with self.db.transaction() as c:
            c.execute("DELETE FROM exports WHERE iteration_id = ? AND platform = ? AND COALESCE(flavor, '') = ?",
                      (iteration_id, platform, flavor or ""))
            c.execute("INSERT INTO exports (id, iteration_id, platform, flavor, status, token, blob_digest, created, "
                      "expires) VALUES (?,?,?,?,?,?,?,?,?)",
                      (new_id(), iteration_id, platform, flavor, "Done", token, blob_digest, utcnow(),
                       time.time() + lifetime_s))
        return rows.export(self.db.query_one("SELECT * FROM exports WHERE token = ?", (token,)))

    def exports(self, iteration_id: str) -> list[ExportRecord]:
        return [rows.export(r) for r in self.db.query("SELECT * FROM exports WHERE iteration_id = ? ORDER BY created",
                                                      (iteration_id,))]

    def export_by_token(self, token: str) -> ExportRecord | None:
        """The export a download link names, while the link lasts."""
        row = self.db.query_one("SELECT * FROM exports WHERE token = ?", (token,))
        return rows.export(row) if row is not None and row["expires"] > time.time() else None
