"""A folder of image features that several services share (`cvlocal serve --feature-cache DIR`).

Every service keeps the features it computed in its own store (training/features.py). Services started side by
side on one machine (a CI job that starts many, replicas with a shared volume, a laptop with several data
folders) would each featurise the same photos again; with a shared folder, the first one to featurise a photo
saves its vector there, and the others read it instead of running the backbone. A vector depends only on the
image's bytes and the features version (backbone, preprocessing, view), both in its path, so any service may
read any other's.

One file a vector: `VERSION/ab/HASH.npy` (float32). Written to a temporary name and renamed into place, so a
reader never sees half a file and two services writing the same vector at once leave one whole file. A file
that cannot be read (a disk fault, a foreign file) counts as missing and is computed again.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np


class FeatureFolder:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, version: str, sha: str) -> Path:
        if not sha or sha.strip("0123456789abcdef"):
            raise ValueError(f"not a content hash: {sha!r}")  # never a path of its own choosing
        return self.root / version / sha[:2] / f"{sha}.npy"

    def get(self, version: str, hashes: list[str]) -> dict[str, np.ndarray]:
        found = {}
        for sha in dict.fromkeys(hashes):
            path = self._path(version, sha)
            try:
                vector = np.load(path, allow_pickle=False)
            except (OSError, ValueError, EOFError):
                continue
            if vector.ndim == 1 and vector.dtype == np.float32:
                found[sha] = vector
        return found

    def put(self, version: str, vectors: Mapping[str, np.ndarray]) -> None:
        for sha, vector in vectors.items():
            path = self._path(version, sha)
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
            try:
                with os.fdopen(handle, "wb") as f:
                    np.save(f, np.asarray(vector, dtype=np.float32), allow_pickle=False)
                os.replace(temporary, path)
            except OSError:
                Path(temporary).unlink(missing_ok=True)  # the folder is a cache: the store keeps the vector
