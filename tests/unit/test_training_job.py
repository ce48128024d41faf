"""A training job on a real store with the real backbones: the training type decides the backbones, the views
and the preprocessing; features are cached per backbone and view; the reserved budget stops a training that
cannot finish in it; the predictor runs what each head reads, and a head saved as iterations were saved before
training types answers exactly as it did."""
from __future__ import annotations

import io
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from cvlocal.model.backbone import FEATURE_DIM, LITE0, LITE2, get_backbone
from cvlocal.model.head import Head
from cvlocal.model.preprocess import decode_for_model
from cvlocal.serving.predictor import Predictor
from cvlocal.store import SqliteStore
from cvlocal.store.records import NewImage
from cvlocal.exports.worker import ExportWorker
from cvlocal.training.export import Exporter
from cvlocal.training.features import Budget, BudgetExceeded, FeatureCache
from cvlocal.training.jobs import train_iteration
from harness.images import photo
from harness import onnx_session

GENERAL_COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"
COLOURS = ("red", "blue")


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "data")
    yield s
    s.close()


def _project(store, per_tag=5):
    project = store.create_project("p", "", GENERAL_COMPACT, "Multiclass", ("ONNX",))
    images, by_colour = [], {}
    for colour in COLOURS:
        tag = store.create_tag(project.id, colour, None, "Regular").id
        for i in range(per_tag):
            data = photo(colour, i, size=(120, 80))  # not square: squash and short-side crops differ
            digest = store.blobs.put(data)
            images.append(NewImage(digest, 120, 80, len(data), (tag,)))
            by_colour.setdefault(colour, []).append(data)
    store.add_images(project.id, images, None)
    return project, by_colour


def _train(store, features, project, kind, budget_hours=0, force=False):
    iteration = store.create_iteration(project, store.training_set(project.id, None), kind, budget_hours, force,
                                       max_iterations=20)
    train_iteration(store, features, iteration.id)
    return store.iteration(project.id, iteration.id)


def _service_probabilities(head: Head, data: bytes) -> np.ndarray:
    """What a head's answer is, from its own record: its preprocessing, its backbones, its input."""
    pixels = decode_for_model(data, resize=head.resize)[np.newaxis]
    return head.predict_proba(head.input_from({b: get_backbone(b).features(pixels) for b in head.backbones}))[0]


@pytest.mark.slow
def test_advanced_trains_on_both_backbones_and_regular_reuses_the_lite0_features(store):
    project, images = _project(store)
    features = FeatureCache(store)
    advanced = _train(store, features, project, "Advanced", budget_hours=1)
    assert advanced.status == "Completed", advanced.error_details
    assert advanced.training_type == "Advanced" and advanced.training_seconds > 0
    head = Head.from_bytes(store.blobs.get(advanced.model_digest))
    assert head.backbones == (LITE0.name, LITE2.name) and head.resize == "squash" and head.transform == "sqrt"
    hashes = [sha for sha, _ in store.training_set(project.id, None).snapshot]
    for spec in (LITE0, LITE2):
        for mirrored in (False, True):
            cached = store.cached_features(spec.cache_key(mirrored, "squash"), hashes)
            assert len(cached) == 10 and all(v.shape == (spec.feature_dim,) for v in cached.values())
    assert store.cached_features(LITE0.cache_key(), hashes) == {}  # nothing of the short-side crop was needed
    assert advanced.timings["cached_images"] == 0

    regular = _train(store, features, project, "Regular", force=True)
    assert regular.status == "Completed" and regular.training_type == "Regular"
    assert regular.timings["cached_images"] == 10 and regular.timings["features_s"] == 0.0
    assert Head.from_bytes(store.blobs.get(regular.model_digest)).backbones == (LITE0.name,)

    predictor = Predictor(store, 4 * 1024 * 1024)
    for iteration in (advanced, regular):
        head = Head.from_bytes(store.blobs.get(iteration.model_digest))
        for colour in COLOURS:
            data = photo(colour, 99, size=(120, 80))
            answer = predictor.classify(project.id, iteration, data, store=False, application=None)
            assert answer["predictions"][0]["tagName"] == colour
            served = {p["tagName"]: p["probability"] for p in answer["predictions"]}
            want = _service_probabilities(head, data)
            np.testing.assert_allclose([served[c] for c in COLOURS], want, atol=1e-6)


def test_the_budget_stops_a_featurisation_that_cannot_finish_in_it(store):
    project, _ = _project(store, per_tag=3)
    hashes = [sha for sha, _ in store.training_set(project.id, None).snapshot]
    features = FeatureCache(store, chunk=2)
    budget = Budget(seconds=1e-3, started=time.monotonic(), hours=1e-3 / 3600)
    with pytest.raises(BudgetExceeded, match="reservedBudgetInHours") as stopped:
        features.views(hashes, (LITE0.name,), "squash", True, budget=budget)
    assert "2 of 6 images" in str(stopped.value) or "would take about" in str(stopped.value)
    # What was computed before the stop is kept, for both views: the next training resumes from it.
    for mirrored in (False, True):
        assert len(store.cached_features(LITE0.cache_key(mirrored, "squash"), hashes)) == 2
    plain, mirrored = features.views(hashes, (LITE0.name,), "squash", True)  # no budget: it finishes
    assert plain[LITE0.name].shape == mirrored[LITE0.name].shape == (6, FEATURE_DIM)
    assert not np.array_equal(plain[LITE0.name], mirrored[LITE0.name])


def test_a_budget_of_hours_is_an_upper_bound_in_seconds():
    assert Budget.reserved(0) is None
    budget = Budget.reserved(2, started=time.monotonic())
    assert budget.seconds == 7200 and 7199 < budget.left() <= 7200
    assert "2 hour(s)" in budget.message("x")


def _legacy_head_bytes(weights: np.ndarray, bias: np.ndarray) -> bytes:
    """A head as the trainer saved it before training types: fit_head's fields, no resize (Lite0's whole
    output of the short-side crop)."""
    buf = io.BytesIO()
    np.savez(buf, weights=weights, bias=bias, multilabel=np.array(False),
             input_backbones=np.array([LITE0.name]), input_widths=np.array([FEATURE_DIM], np.int64),
             test_time_flip=np.array(False), transform=np.array("none"))
    return buf.getvalue()


def _short_side_input(data: bytes) -> np.ndarray:
    """What an export of those iterations asked for (its README): short side 256, centre 224, NCHW 0..255."""
    img = Image.open(io.BytesIO(data)).convert("RGB")
    scale = 256 / min(img.size)
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.BICUBIC)
    left, top = (img.width - 224) // 2, (img.height - 224) // 2
    return np.asarray(img.crop((left, top, left + 224, top + 224)), np.float32).transpose(2, 0, 1)[None]


def _built(store, export, timeout=120):
    """The export once the worker has built it (it starts `Exporting`, as Azure's do)."""
    assert export.status == "Exporting"
    deadline = time.monotonic() + timeout
    while (export := store.export(export.id)).status == "Exporting":
        assert time.monotonic() < deadline, "the export did not finish"
        time.sleep(0.05)
    assert export.status == "Done"
    return export


def test_an_iteration_trained_before_training_types_answers_and_exports_as_it_did(store):
    project, _ = _project(store, per_tag=5)
    iteration = store.create_iteration(project, store.training_set(project.id, None), "Regular", 0, False, 20)
    rng = np.random.default_rng(3)
    weights = rng.normal(0, 0.05, (FEATURE_DIM, 2)).astype(np.float32)
    bias = np.array([0.3, -0.3], np.float32)
    store.finish_training(iteration.id, store.blobs.put(_legacy_head_bytes(weights, bias)), store.blobs.put(b"-"),
                          1.0, {})
    iteration = store.iteration(project.id, iteration.id)
    predictor = Predictor(store, 4 * 1024 * 1024)
    for colour in COLOURS:
        data = photo(colour, 50, size=(120, 80))
        # Then: Lite0's whole 2,048-value output of the short-side crop, the head, a softmax.
        logits = get_backbone().features(decode_for_model(data)[np.newaxis]).astype(np.float64) @ weights + bias
        then = np.exp(logits - logits.max())[0]
        then /= then.sum()
        served = {p["tagName"]: p["probability"] for p in
                  predictor.classify(project.id, iteration, data, store=False, application=None)["predictions"]}
        np.testing.assert_allclose([served[c] for c in COLOURS], then, atol=1e-6)

    exporter = Exporter(store, 60, ExportWorker(store, 60, in_process=True))
    exporter.start()
    try:
        package = store.blobs.get(_built(store, exporter.export(iteration, "ONNX", None)).blob_digest)
    finally:
        exporter.stop()
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        session = onnx_session.session(z.read("model.onnx"))
        assert "short side resized to 256" in z.read("README.txt").decode()
    assert [i.name for i in session.get_inputs()] == ["image"] and session.get_inputs()[0].shape[2:] == [224, 224]
    data = photo("blue", 51, size=(120, 80))
    exported = session.run(["probabilities"], {"image": _short_side_input(data)})[0][0]
    np.testing.assert_allclose(exported, _service_probabilities(Head.from_bytes(
        _legacy_head_bytes(weights, bias)), data), atol=2e-3)  # the client's own resize, not the service's


def test_a_shared_feature_folder_spares_a_second_service_the_backbone(tmp_path, store):
    """Two stores (two services) sharing a feature folder: the second computes nothing the first did, gets the
    same vectors, and keeps them in its own store; a torn or foreign file there is computed again."""
    from cvlocal.training.feature_folder import FeatureFolder

    folder = FeatureFolder(tmp_path / "shared")
    project, _ = _project(store, per_tag=2)
    hashes = [sha for sha, _ in store.training_set(project.id, None).snapshot]
    first = FeatureCache(store, shared=folder).views(hashes, (LITE0.name,), "squash", True)
    other = SqliteStore(tmp_path / "other")
    try:
        for sha in hashes:
            other.blobs.put(store.blobs.get(sha))
        timings: dict[str, float] = {}
        second = FeatureCache(other, shared=folder).views(hashes, (LITE0.name,), "squash", True, timings)
        assert timings["cached_images"] == 4 and timings["features_s"] == 0.0
        for a, b in zip(first, second):
            np.testing.assert_array_equal(a[LITE0.name], b[LITE0.name])
        assert len(other.cached_features(LITE0.cache_key(True, "squash"), hashes)) == 4
    finally:
        other.close()

    torn = folder._path(LITE0.cache_key(False, "squash"), hashes[0])
    torn.write_bytes(torn.read_bytes()[:40])
    assert hashes[0] not in folder.get(LITE0.cache_key(False, "squash"), hashes)
    third = SqliteStore(tmp_path / "third")
    try:
        for sha in hashes:
            third.blobs.put(store.blobs.get(sha))
        timings = {}
        again = FeatureCache(third, shared=folder).views(hashes, (LITE0.name,), "squash", False, timings)
        assert timings["cached_images"] == 3 and timings["features_s"] > 0
        np.testing.assert_allclose(again[0][LITE0.name], first[0][LITE0.name], atol=1e-5)
        assert hashes[0] in folder.get(LITE0.cache_key(False, "squash"), hashes)  # written whole again
    finally:
        third.close()
    with pytest.raises(ValueError, match="not a content hash"):
        folder.get("v", ["../../etc/passwd"])
