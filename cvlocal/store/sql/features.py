"""The `features` table: backbone features per image content hash and features version (float32 bytes)."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .db import Database, marks

_CHUNK = 500  # hashes per query: under SQLite's limit on bound parameters


class FeatureTables:
    db: Database

    def cached_features(self, version: str, hashes: list[str]) -> dict[str, np.ndarray]:
        out = {}
        for start in range(0, len(hashes), _CHUNK):
            chunk = hashes[start:start + _CHUNK]
            for r in self.db.query(f"SELECT sha256, vector FROM features WHERE backbone = ? AND sha256 IN "
                                   f"({marks(chunk)})", [version, *chunk]):
                out[r["sha256"]] = np.frombuffer(r["vector"], dtype=np.float32)
        return out

    def cache_features(self, version: str, vectors: Mapping[str, np.ndarray]) -> None:
        with self.db.transaction() as c:
            c.executemany("INSERT INTO features (sha256, backbone, vector) VALUES (?,?,?) "
                          "ON CONFLICT (sha256, backbone) DO UPDATE SET vector = excluded.vector",
                          [(h, version, v.astype(np.float32).tobytes()) for h, v in vectors.items()])
