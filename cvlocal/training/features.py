"""Image features, cached per image content hash, backbone, preprocessing and view, so a retrain only pays for
the new images.

A training type (model/training_types.py) names the backbones its heads read, the preprocessing and whether
the mirror images are training rows too; `FeatureCache.views` computes whatever of that is not cached yet,
decoding each image once for all its backbones and views, within a time budget when the iteration reserved one.
Heads trained before training types existed read the Lite0 output of the short-side crop; the vectors cached
for them under `efficientnet-lite0/v2` (`LITE0.cache_key()`) keep that meaning and key.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..model.backbone import backbone_spec, get_backbone
from ..model.preprocess import decode_for_model
from ..store import Store
from .feature_folder import FeatureFolder

CHUNK = 64  # images decoded and featurised together; bounds memory for big training sets


class BudgetExceeded(RuntimeError):
    """The iteration's reserved budget cannot cover (or did not cover) its featurisation."""


@dataclass(frozen=True)
class Budget:
    """An upper bound on a training's time: `seconds` from `started` (time.monotonic())."""
    seconds: float
    started: float
    hours: float

    @classmethod
    def reserved(cls, hours: float, started: float | None = None) -> "Budget | None":
        return cls(hours * 3600.0, time.monotonic() if started is None else started, hours) if hours > 0 else None

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def message(self, what: str) -> str:
        return (f"Training stopped: {what}, over the reserved budget of {self.hours:g} hour(s) "
                "(reservedBudgetInHours). Reserve more hours or train on fewer images; features computed so far "
                "are kept, so the next training resumes from them.")


def _decode_workers() -> int:
    return max(1, min(4, len(os.sched_getaffinity(0))))


class FeatureCache:
    def __init__(self, store: Store, chunk: int = CHUNK, shared: FeatureFolder | None = None,
                 precision: str = "fp32"):
        """`shared`: a folder other services featurise into too (training/feature_folder.py), read before any
        backbone runs and written with whatever is computed here. `precision`: the backbones new trainings read
        ("int8": the int8 twins; the service's `--precision`)."""
        self.store = store
        self.chunk = chunk
        self.shared = shared
        self.precision = precision

    def views(self, hashes: list[str], backbones: tuple[str, ...], resize: str, mirrored: bool,
              timings: dict[str, float] | None = None, budget: Budget | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
        """({backbone: [N, D]}, the same for the mirror images or None) for these content hashes, in order.

        What is missing is computed chunk by chunk and cached as it goes. With a `budget`, the first chunk's
        pace estimates the rest, and a training that cannot finish within the budget (or runs past it) stops
        with `BudgetExceeded` before the next chunk, the work done so far kept.
        """
        timings = timings if timings is not None else {}
        for key in ("decode_s", "features_s"):
            timings.setdefault(key, 0.0)
        views = [False, True] if mirrored else [False]
        keys = {(b, m): backbone_spec(b).cache_key(m, resize) for b in backbones for m in views}
        known = {k: self.store.cached_features(version, hashes) for k, version in keys.items()}
        unique = list(dict.fromkeys(hashes))
        if self.shared is not None:
            self._read_shared(keys, known, unique)
        missing = [h for h in unique if any(h not in known[k] for k in keys)]
        timings["cached_images"] = len(unique) - len(missing)
        if missing:
            self._compute(missing, keys, known, resize, timings, budget)
        out: dict[bool, dict[str, np.ndarray]] = {m: {} for m in views}
        for (b, m), found in known.items():
            out[m][b] = np.stack([found[h] for h in hashes]) if hashes else \
                np.zeros((0, backbone_spec(b).feature_dim), np.float32)
        return out[False], out.get(True)

    def _read_shared(self, keys, known, unique) -> None:
        """Fill `known` from the shared folder, keeping what it had in this store too."""
        for k, version in keys.items():
            found = self.shared.get(version, [h for h in unique if h not in known[k]])
            if found:
                self.store.cache_features(version, found)
                known[k].update(found)

    def _compute(self, missing, keys, known, resize, timings, budget) -> None:
        started, done = time.monotonic(), 0
        with ThreadPoolExecutor(_decode_workers()) as pool:
            for start in range(0, len(missing), self.chunk):
                chunk = missing[start:start + self.chunk]
                t0 = time.perf_counter()
                pixels = np.stack(list(pool.map(
                    lambda h: decode_for_model(self.store.blobs.get(h), resize=resize), chunk)))
                t1 = time.perf_counter()
                mirror = None
                for (b, m), version in keys.items():
                    todo = [i for i, h in enumerate(chunk) if h not in known[(b, m)]]
                    if not todo:
                        continue
                    if m and mirror is None:
                        mirror = np.ascontiguousarray(pixels[:, :, ::-1])  # left-right: the W axis of NHWC
                    vectors = get_backbone(b).features((mirror if m else pixels)[todo])
                    fresh = {chunk[i]: v for i, v in zip(todo, vectors)}
                    self.store.cache_features(version, fresh)
                    if self.shared is not None:
                        self.shared.put(version, fresh)
                    known[(b, m)].update(fresh)
                timings["decode_s"] += t1 - t0
                timings["features_s"] += time.perf_counter() - t1
                done += len(chunk)
                if budget is not None and done < len(missing):
                    self._check(budget, started, done, len(missing))

    @staticmethod
    def _check(budget: Budget, started: float, done: int, total: int) -> None:
        per_image = (time.monotonic() - started) / done
        needed = per_image * (total - done)
        if budget.left() <= 0:
            raise BudgetExceeded(budget.message(f"{done} of {total} images featurised when the budget ran out"))
        if needed > budget.left():
            raise BudgetExceeded(budget.message(
                f"featurising the {total} new images would take about {(done * per_image + needed) / 60:.0f} "
                f"minutes at the pace of the first {done}"))
