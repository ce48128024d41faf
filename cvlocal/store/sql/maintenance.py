"""Operating a store: is it answering (the database and the blobs), which blobs do its rows name, and the
exports whose links have expired; the same SQL on every engine."""
from __future__ import annotations

import time

from ..blobs import BlobStore
from .db import Database

# Every column that names a blob (tests/unit/test_blob_collection.py checks that the schema has no other):
# images' bytes, stored predictions' images, trained heads and held-out evaluations, built exports (until
# their link expires), the images a training still in progress is about to read, and the images of exported
# projects (until their token expires). One statement: one snapshot across the tables on every engine.
REFERENCED_BLOBS = """
SELECT sha256 FROM images
UNION SELECT sha256 FROM predictions
UNION SELECT model_digest FROM iterations WHERE model_digest IS NOT NULL
UNION SELECT heldout_digest FROM iterations WHERE heldout_digest IS NOT NULL
UNION SELECT blob_digest FROM exports WHERE blob_digest IS NOT NULL AND expires > ?
UNION SELECT {image_of_s} FROM iterations, {elements_of_snapshot} WHERE iterations.status = 'Training'
UNION SELECT {image_of_e} FROM project_exports, {elements_of_exported} WHERE project_exports.expires > ?
"""


def referenced_blobs_sql(db: type[Database] | Database) -> str:
    """REFERENCED_BLOBS in the engine's dialect (its `?`s: now, in seconds since the epoch, each time)."""
    return REFERENCED_BLOBS.format(image_of_s=db.json_text("s.value", 0),
                                   elements_of_snapshot=db.json_elements("iterations.snapshot", "s"),
                                   image_of_e=db.json_text("e.value", "sha256"),
                                   elements_of_exported=db.json_elements("project_exports.snapshot", "e"))


def referenced_blobs_params(now: float) -> tuple[float, float]:
    """The parameters of REFERENCED_BLOBS: `now` for each of its `?`s."""
    return now, now


class MaintenanceTables:
    db: Database
    blobs: BlobStore

    def ping(self) -> None:
        self.db.ping()
        self.blobs.ping()

    def referenced_blobs(self, now: float | None = None) -> set[str]:
        moment = time.time() if now is None else now
        return {row[0] for row in self.db.query(referenced_blobs_sql(self.db), referenced_blobs_params(moment))}

    def delete_expired_exports(self, now: float | None = None) -> int:
        """Exports whose download link (or import token) has expired: their rows go (their blobs become garbage,
        unless another row names them)."""
        moment = time.time() if now is None else now
        with self.db.transaction() as c:
            return c.execute("DELETE FROM exports WHERE expires <= ?", (moment,)).rowcount + \
                c.execute("DELETE FROM project_exports WHERE expires <= ?", (moment,)).rowcount
