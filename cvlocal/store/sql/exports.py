"""The `exports` table: exports of iterations, from `Exporting` to `Done` (or `Failed`), and their download
tokens.

An export is recorded as `Exporting` when it is asked for, built in the background (exports/worker.py) and
marked `Done` with its package's blob, or `Failed`. One export of an iteration to a platform and flavor runs at
a time (Azure's `BadRequestExportAlreadyInProgress`; a unique index holds it between replicas); a new one
replaces the earlier export of that platform and flavor, whose link is then void. An export still `Exporting`
after `stale_after_s` was lost with the process building it (a replica that stopped): it reads as `Failed`
and may be asked for again.
"""
from __future__ import annotations

import time

from ... import errors
from ..records import ExportRecord
from . import rows
from .db import Database, new_id, utcnow

IN_PROGRESS = "BadRequestExportAlreadyInProgress"


class ExportTables:
    db: Database

    def create_export(self, iteration_id: str, platform: str, flavor: str | None, token: str, blob_digest: str,
                      lifetime_s: float) -> ExportRecord:
        """Record an export already built; an earlier export of the same platform and flavor is void."""
        with self.db.transaction() as c:
            c.execute("DELETE FROM exports WHERE iteration_id = ? AND platform = ? AND COALESCE(flavor, '') = ?",
                      (iteration_id, platform, flavor or ""))
            c.execute("INSERT INTO exports (id, iteration_id, platform, flavor, status, token, blob_digest, created, "
                      "expires, started) VALUES (?,?,?,?,?,?,?,?,?,?)",
                      (new_id(), iteration_id, platform, flavor, "Done", token, blob_digest, utcnow(),
                       time.time() + lifetime_s, time.time()))
        return rows.export(self.db.query_one("SELECT * FROM exports WHERE token = ?", (token,)))

    def start_export(self, iteration_id: str, platform: str, flavor: str | None, token: str, lifetime_s: float,
                     stale_after_s: float) -> ExportRecord:
        """Record an export as `Exporting`, replacing the iteration's earlier export of that platform and
        flavor; `BadRequestExportAlreadyInProgress` while one of them is being built."""
        now = time.time()
        key = (iteration_id, platform, flavor or "")
        with self.db.transaction() as c:
            running = c.execute("SELECT started FROM exports WHERE iteration_id = ? AND platform = ? AND "
                                "COALESCE(flavor, '') = ? AND status = 'Exporting'", key).fetchone()
            if running is not None and (running[0] or 0) > now - stale_after_s:
                raise errors.bad_request(f"An export of this iteration to {platform}"
                                         f"{' (' + flavor + ')' if flavor else ''} is already in progress.",
                                         IN_PROGRESS)
            c.execute("DELETE FROM exports WHERE iteration_id = ? AND platform = ? AND COALESCE(flavor, '') = ?",
                      key)
            c.execute("INSERT INTO exports (id, iteration_id, platform, flavor, status, token, blob_digest, created, "
                      "expires, started) VALUES (?,?,?,?,?,?,?,?,?,?)",
                      (new_id(), iteration_id, platform, flavor, "Exporting", token, None, utcnow(),
                       now + stale_after_s + lifetime_s, now))
        return rows.export(self.db.query_one("SELECT * FROM exports WHERE token = ?", (token,)))

    def finish_export(self, export_id: str, blob_digest: str, lifetime_s: float) -> bool:
        """Mark a built export `Done`; False if it is gone meanwhile (its iteration deleted, or replaced)."""
        with self.db.transaction() as c:
            return c.execute("UPDATE exports SET status = 'Done', blob_digest = ?, expires = ? "
                             "WHERE id = ? AND status = 'Exporting'",
                             (blob_digest, time.time() + lifetime_s, export_id)).rowcount == 1

    def fail_export(self, export_id: str) -> None:
        with self.db.transaction() as c:
            c.execute("UPDATE exports SET status = 'Failed' WHERE id = ? AND status = 'Exporting'", (export_id,))

    def fail_interrupted_exports(self) -> int:
        """At start-up of a service that alone builds its exports: any 'Exporting' row was cut short."""
        with self.db.transaction() as c:
            return c.execute("UPDATE exports SET status = 'Failed' WHERE status = 'Exporting'").rowcount

    def export(self, export_id: str) -> ExportRecord | None:
        row = self.db.query_one("SELECT * FROM exports WHERE id = ?", (export_id,))
        return rows.export(row) if row is not None else None

    def exports(self, iteration_id: str, stale_after_s: float | None = None) -> list[ExportRecord]:
        """The iteration's exports, oldest first; one `Exporting` for longer than `stale_after_s` reads `Failed`."""
        found = [rows.export(r) for r in self.db.query("SELECT * FROM exports WHERE iteration_id = ? "
                                                       "ORDER BY created", (iteration_id,))]
        if stale_after_s is None:
            return found
        cutoff = time.time() - stale_after_s
        return [rows.lost_export(e) if e.status == "Exporting" and (e.started or 0) < cutoff else e for e in found]

    def export_by_token(self, token: str) -> ExportRecord | None:
        """The built export a download link names, while the link lasts."""
        row = self.db.query_one("SELECT * FROM exports WHERE token = ? AND status = 'Done'", (token,))
        return rows.export(row) if row is not None and row["expires"] > time.time() else None
