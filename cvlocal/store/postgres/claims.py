"""Trainings as claimed jobs: any replica claims a waiting training with a lease, renews it while it trains,
and only the lease's holder writes the result (store/sql/iterations.py asks `condition()`).

A replica that dies stops renewing; once its lease has run out another replica claims the training and trains
it again from its recorded training set (the blobs the dead one wrote are content-addressed and harmless). A
replica that stops gracefully hands its leases back at once. Lease times are the database's clock
(clock_timestamp()), so replicas' clocks need not agree. A training claimed MAX_ATTEMPTS times without ending
(a job that kills its replica every time) ends Failed instead of taking the cluster down one replica at a time.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket

from ..sql.db import utcnow
from .db import PostgresDatabase

log = logging.getLogger("cvlocal.training")
MAX_ATTEMPTS = 3
GAVE_UP = (f"The training was interrupted {MAX_ATTEMPTS} times (the replica training it stopped each time). "
           "Train the project again.")
_NOW = "EXTRACT(EPOCH FROM clock_timestamp())"


class LeaseClaims:
    def __init__(self, db: PostgresDatabase):
        self.db = db
        self.owner = f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"

    def condition(self) -> tuple[str, tuple]:
        return " AND lease_owner = ?", (self.owner,)

    def claim_training(self, lease_s: float) -> str | None:
        while True:
            with self.db.transaction() as c:
                row = c.execute(
                    f"UPDATE iterations SET lease_owner = ?, lease_expires = {_NOW} + ?, attempts = attempts + 1 "
                    "WHERE id = (SELECT id FROM iterations WHERE status = 'Training' AND (lease_expires IS NULL OR "
                    f"lease_expires < {_NOW}) ORDER BY created LIMIT 1 FOR UPDATE SKIP LOCKED) "
                    "RETURNING id, attempts", (self.owner, lease_s)).fetchone()
                if row is None:
                    return None
                if row["attempts"] <= MAX_ATTEMPTS:
                    return row["id"]
                c.execute("UPDATE iterations SET status = 'Failed', error_details = ?, last_modified = ?, "
                          "lease_expires = NULL WHERE id = ?", (GAVE_UP, utcnow(), row["id"]))
                log.warning("gave up on training %s after %d attempts", row["id"], MAX_ATTEMPTS)

    def renew_trainings(self, lease_s: float) -> int:
        with self.db.transaction() as c:
            return c.execute(f"UPDATE iterations SET lease_expires = {_NOW} + ? WHERE lease_owner = ? "
                             "AND status = 'Training'", (lease_s, self.owner)).rowcount

    def release_trainings(self) -> int:
        """A handed-back training does not count as an attempt."""
        with self.db.transaction() as c:
            return c.execute("UPDATE iterations SET lease_owner = NULL, lease_expires = NULL, "
                             "attempts = GREATEST(attempts - 1, 0) WHERE lease_owner = ? AND status = 'Training'",
                             (self.owner,)).rowcount
