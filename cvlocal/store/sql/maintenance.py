"""Operating a store: is it answering (the database and the blobs), which blobs do its rows name, and the
exports whose links have expired; the same SQL on every engine."""
from __future__ import annotations

import time

from ..blobs import BlobStore
from .db import Database

# Every column that names a blob (tests/unit/test_blob_collection.py checks that the schema has no other):
# images' bytes, stored predictions' images, trained heads and held-out evaluations, built exports (until
# their link expires), and the images a training still in progress is about to read. One statement: one
# snapshot across the tables on every engine.
REFERENCED_BLOBS = """
SELECT sha256 FROM images
UNION SELECT sha256 FROM predictions
UNION SELECT model_digest FROM iterations WHERE model_digest IS NOT NULL
UNION SELECT heldout_digest FROM iterations WHERE heldout_digest IS NOT NULL
UNION SELECT blob_digest FROM exports WHERE blob_digest IS NOT NULL AND expires > ?
UNION SELECT {image_of_s} FROM iterations, {elements_of_snapshot} WHERE iterations.status = 'Training'
"""


def referenced_blobs_sql(db: type[Database] | Database) -> str:
    """REFERENCED_BLOBS in the engine's dialect (its one `?`: now, in seconds since the epoch)."""
    return REFERENCED_BLOBS.format(image_of_s=db.json_text("s.value", 0),
                                   elements_of_snapshot=db.json_elements("iterations.snapshot", "s"))


class MaintenanceTables:
    db: Database
    blobs: BlobStore

    def ping(self) -> None:
        self.db.ping()
        self.blobs.ping()

    def referenced_blobs(self, now: float | None = None) -> set[str]:
        return {row[0] for row in self.db.query(referenced_blobs_sql(self.db), (time.time() if now is None else now,))}

    def delete_expired_exports(self, now: float | None = None) -> int:
        """Exports whose download link has expired: their rows go (their blobs become garbage)."""
        with self.db.transaction() as c:
            return c.execute("DELETE FROM exports WHERE expires <= ?", (time.time() if now is None else now,)).rowcount
