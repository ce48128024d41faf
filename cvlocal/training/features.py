"""Image features, cached per image content hash so a retrain only pays for the new images."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..model.backbone import BACKBONE_NAME, FEATURE_DIM, get_backbone
from ..model.preprocess import decode_for_model
from ..store import Store

CHUNK = 64  # images decoded and featurised together; bounds memory for big training sets
# Bump when the backbone graph or preprocessing changes, so stale cached vectors are never reused.
FEATURES_VERSION = f"{BACKBONE_NAME}/v2"  # v2: the 16x16 thumbnail appended


def _decode_workers() -> int:
    import os
    return max(1, min(4, len(os.sched_getaffinity(0))))


class FeatureCache:
    def __init__(self, store: Store):
        self.store = store

    def features(self, hashes: list[str], timings: dict[str, float] | None = None) -> np.ndarray:
        """[N, FEATURE_DIM] for the images with these content hashes, in order."""
        timings = timings if timings is not None else {}
        timings.setdefault("decode_s", 0.0)
        timings.setdefault("features_s", 0.0)
        known = self.store.cached_features(FEATURES_VERSION, hashes)
        missing = [h for h in dict.fromkeys(hashes) if h not in known]
        timings["cached_images"] = len(hashes) - len(missing)
        if missing:
            backbone = get_backbone()
            with ThreadPoolExecutor(_decode_workers()) as pool:
                for start in range(0, len(missing), CHUNK):
                    chunk = missing[start:start + CHUNK]
                    t0 = time.perf_counter()
                    pixels = np.stack(list(pool.map(lambda h: decode_for_model(self.store.blobs.get(h)), chunk)))
                    t1 = time.perf_counter()
                    vectors = backbone.features(pixels)
                    t2 = time.perf_counter()
                    timings["decode_s"] += t1 - t0
                    timings["features_s"] += t2 - t1
                    fresh = dict(zip(chunk, vectors))
                    self.store.cache_features(FEATURES_VERSION, fresh)
                    known.update(fresh)
        out = np.empty((len(hashes), FEATURE_DIM), np.float32)
        for i, h in enumerate(hashes):
            out[i] = known[h]
        return out
