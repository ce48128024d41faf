"""Training in the background: one worker thread takes iterations in the order they were asked for.

An iteration answers `Training` at once; the worker featurises (cached), fits the head, cross-validates,
stores both as blobs and marks it `Completed`, or `Failed` with the reason.
"""
from __future__ import annotations

import io
import json
import logging
import queue
import secrets
import threading
import time
import zipfile

import numpy as np

from .features import FeatureCache
from .model.evaluation import HeldOut, cross_validate, performance
from .model.head import Head, fit_head
from .store import Store

log = logging.getLogger("cvlocal.training")


def head_to_bytes(head: Head) -> bytes:
    buf = io.BytesIO()
    head.save(buf)
    return buf.getvalue()


def head_from_bytes(data: bytes) -> Head:
    return Head.load(io.BytesIO(data))


def heldout_to_bytes(held: HeldOut) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, probabilities=held.probabilities, labels=held.labels, folds=held.folds)
    return buf.getvalue()


def heldout_from_bytes(data: bytes) -> HeldOut:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return HeldOut(z["probabilities"].astype(np.float32), z["labels"].astype(bool), z["folds"].astype(np.int64))


class Trainer:
    def __init__(self, store: Store, export_lifetime_s: float):
        self.store = store
        self.features = FeatureCache(store)
        self.export_lifetime_s = export_lifetime_s
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="cvlocal-trainer", daemon=True)
        self._heldout_cache: dict[str, HeldOut] = {}

    def start(self) -> None:
        failed = self.store.fail_interrupted()
        if failed:
            log.warning("marked %d iteration(s) interrupted by a restart as Failed", failed)
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)

    def submit(self, iteration_id: str) -> None:
        self._queue.put(iteration_id)

    def _work(self) -> None:
        while (iteration_id := self._queue.get()) is not None:
            try:
                self.train(iteration_id)
            except Exception as exc:  # the iteration must end Failed, never stay Training
                log.exception("training %s failed", iteration_id)
                self.store.fail_training(iteration_id, f"Training failed: {exc}")

    def train(self, iteration_id: str) -> None:
        row = self.store.db.query_one("SELECT * FROM iterations WHERE id = ?", (iteration_id,))
        if row is None or row["status"] != "Training":
            return  # deleted with its project meanwhile
        started = time.perf_counter()
        tags = [tuple(t) for t in json.loads(row["tags"])]
        snapshot = json.loads(row["snapshot"])
        column = {tid: i for i, (tid, _) in enumerate(tags)}
        labels = np.zeros((len(snapshot), len(tags)), bool)
        for i, (_, tag_ids) in enumerate(snapshot):
            labels[i, [column[t] for t in tag_ids]] = True
        multilabel = row["classification_type"] == "Multilabel"
        if not multilabel:
            several = int((labels.sum(axis=1) > 1).sum())
            if several:
                raise ValueError(f"{several} image(s) carry more than one tag, but the project is Multiclass; "
                                 "give each image one tag or make the project Multilabel.")
        timings: dict[str, float] = {}
        features = self.features.features([sha for sha, _ in snapshot], timings)
        t0 = time.perf_counter()
        head = fit_head(features, labels, multilabel)
        held_out = cross_validate(features, labels, multilabel)
        timings["head_s"] = time.perf_counter() - t0
        model_digest = self.store.blobs.put(head_to_bytes(head))
        heldout_digest = self.store.blobs.put(heldout_to_bytes(held_out))
        seconds = time.perf_counter() - started
        timings["total_s"] = seconds
        self.store.finish_training(iteration_id, model_digest, heldout_digest, seconds, timings)
        log.info("trained %s (%s) on %d images in %.2f s %s", row["name"], iteration_id, len(snapshot), seconds,
                 {k: round(v, 3) for k, v in timings.items()})

    def performance(self, row, threshold: float) -> dict:
        held = self._heldout_cache.get(row["heldout_digest"])
        if held is None:
            held = heldout_from_bytes(self.store.blobs.get(row["heldout_digest"]))
            self._heldout_cache[row["heldout_digest"]] = held
        return performance(held, threshold, [tuple(t) for t in json.loads(row["tags"])])

    def export(self, row, platform: str, flavor: str | None):
        """An ONNX model of backbone + head, zipped with its labels, behind an unguessable link."""
        from .model.backbone import INPUT_SIZE
        from .model.onnx_export import build_classifier_model

        head = head_from_bytes(self.store.blobs.get(row["model_digest"]))
        names = [name for _, name in json.loads(row["tags"])]
        model = build_classifier_model(head.weights, head.bias, "sigmoid" if head.multilabel else "softmax", names)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("model.onnx", model.SerializeToString())
            z.writestr("labels.txt", "\n".join(names) + "\n")
            z.writestr("README.txt", EXPORT_README.format(size=INPUT_SIZE))
        token = secrets.token_urlsafe(32)
        digest = self.store.blobs.put(buf.getvalue())
        self.store.create_export(row["id"], platform, flavor, token, digest, self.export_lifetime_s)
        return self.store.db.query_one("SELECT * FROM exports WHERE token = ?", (token,))


EXPORT_README = """Exported by cvlocal (self-hosted Custom Vision).
model.onnx: input 'image', float32 [N, 3, {size}, {size}], RGB, values 0..255 (resize the short side to 256,
centre-crop {size}); output 'probabilities', float32 [N, K], in the order of labels.txt.
"""
