"""Regular and Advanced training: what each head reads, how it is fitted, and cross-validation without leaks."""
from __future__ import annotations

import io

import numpy as np
import pytest

from cvlocal.model.backbone import CNN_DIM, FEATURE_DIM, LITE0, LITE2
from cvlocal.model.evaluation import cross_validate
from cvlocal.model.head import LEGACY_INPUTS, Head, HeadInput, fit_head
from cvlocal.model.training_types import ADVANCED, REGULAR, training_type


def _backbone_features(n_per_tag=12, tags=3, seed=0, spread=1.0):
    """Non-negative, ReLU-like features for each backbone (Lite0 2,048 wide, Lite2 1,280), one-hot labels,
    and the 'mirrored' features: the same images, slightly perturbed."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(tags), n_per_tag)
    out, mirrored = {}, {}
    for name, width in ((LITE0.name, FEATURE_DIM), (LITE2.name, CNN_DIM)):
        centres = rng.gamma(1.0, 0.3, (tags, width))
        x = np.maximum(centres[y] + spread * 0.2 * rng.normal(size=(len(y), width)), 0)
        out[name] = x.astype(np.float32)
        mirrored[name] = np.maximum(x + 0.05 * rng.normal(size=x.shape), 0).astype(np.float32)
    return out, mirrored, np.eye(tags, dtype=bool)[y]


def test_regular_reads_the_lite0_channels_as_they_are():
    features, mirrored, labels = _backbone_features()
    assert REGULAR.backbones == (LITE0.name,) and REGULAR.needs_mirrored
    with pytest.raises(ValueError, match="mirrored"):
        REGULAR.fit(features, labels, multilabel=False)
    head = REGULAR.fit(features, labels, multilabel=False, mirrored=mirrored)
    assert head.inputs == (HeadInput(LITE0.name, CNN_DIM),) and not head.test_time_flip and head.transform == "none"
    assert head.weights.shape == (CNN_DIM, 3)
    # The same model as fitting the first 1,280 values of both views, unstandardised, at C = 3 ...
    rows = np.vstack([features[LITE0.name][:, :CNN_DIM], mirrored[LITE0.name][:, :CNN_DIM]])
    same = fit_head(rows, np.vstack([labels, labels]), False, c=3.0, standardise=False)
    np.testing.assert_allclose(head.weights, same.weights, atol=1e-6)
    # ... and it predicts from the Lite0 output of the image alone (the thumbnail after the channels unread).
    x = head.input_from({LITE0.name: features[LITE0.name]})
    np.testing.assert_array_equal(x, features[LITE0.name][:, :CNN_DIM])
    changed = features[LITE0.name].copy()
    changed[:, CNN_DIM:] = 255.0
    np.testing.assert_array_equal(head.predict_proba(head.input_from({LITE0.name: changed})), head.predict_proba(x))


def test_regular_is_scikit_learns_logistic_regression_at_c_3_on_both_views():
    from sklearn.linear_model import LogisticRegression

    features, mirrored, labels = _backbone_features(spread=4.0, seed=1)
    x = features[LITE0.name][:, :CNN_DIM].astype(np.float64)
    rows = np.vstack([x, mirrored[LITE0.name][:, :CNN_DIM]])
    ours = REGULAR.fit(features, labels, multilabel=False, mirrored=mirrored).predict_proba(x)
    theirs = LogisticRegression(C=3.0, tol=1e-8, max_iter=5000).fit(rows, np.tile(labels.argmax(1), 2))
    np.testing.assert_allclose(ours, theirs.predict_proba(x), atol=2e-3)


def test_advanced_reads_both_backbones_square_rooted():
    features, mirrored, labels = _backbone_features(seed=2)
    assert ADVANCED.needs_mirrored and ADVANCED.backbones == (LITE0.name, LITE2.name)
    head = ADVANCED.fit(features, labels, multilabel=False, mirrored=mirrored)
    assert head.inputs == (HeadInput(LITE0.name, CNN_DIM), HeadInput(LITE2.name, CNN_DIM))
    assert head.transform == "sqrt" and not head.test_time_flip
    assert head.weights.shape == (2 * CNN_DIM, 3)

    def root(by_backbone):
        return np.sqrt(np.hstack([by_backbone[LITE0.name][:, :CNN_DIM], by_backbone[LITE2.name]]))

    same = fit_head(np.vstack([root(features), root(mirrored)]), np.vstack([labels, labels]), False, c=3.0,
                    standardise=False)
    np.testing.assert_allclose(head.weights, same.weights, atol=1e-6)
    x = head.input_from(features)  # a prediction needs the image alone
    np.testing.assert_allclose(x, root(features), rtol=1e-6)
    assert (head.predict_proba(x).argmax(1) == labels.argmax(1)).all()


def test_a_head_that_averages_mirror_images_needs_them():
    features, mirrored, labels = _backbone_features(seed=8)
    x = features[LITE0.name][:, :CNN_DIM]
    head = fit_head(x, labels, False, c=1.0, standardise=False, test_time_flip=True)
    with pytest.raises(ValueError, match="mirror"):
        head.input_from(features)
    np.testing.assert_allclose(head.input_from(features, mirrored), (x + mirrored[LITE0.name][:, :CNN_DIM]) / 2,
                               rtol=1e-6)


def test_cross_validation_keeps_every_view_of_a_held_out_image_out_of_training():
    features, mirrored, labels = _backbone_features(seed=3)
    n = len(labels)
    # Tag each row with its image: the last column of both views is the image's index (+ 1000 if mirrored).
    plain = np.hstack([features[LITE0.name][:, :8], np.arange(n)[:, None]])
    flipped = np.hstack([mirrored[LITE0.name][:, :8], 1000 + np.arange(n)[:, None]])
    seen = []

    def recording_fit(x, y, multilabel):
        seen.append(set(x[:, -1].astype(int)))
        return fit_head(x, y, multilabel, c=1.0, standardise=False)

    held = cross_validate(plain, labels, False, fit=recording_fit, training_views=[plain, flipped])
    for f, trained_on in zip(np.unique(held.folds), seen):
        test = set(np.flatnonzero(held.folds == f))
        assert not trained_on & (test | {1000 + i for i in test})
        assert trained_on == {i for i in range(n) if i not in test} | {1000 + i for i in range(n) if i not in test}


def test_advanced_cross_validation_predicts_every_image():
    features, mirrored, labels = _backbone_features(seed=4)
    held = ADVANCED.cross_validate(features, labels, multilabel=False, mirrored=mirrored)
    assert held.probabilities.shape == labels.shape
    np.testing.assert_allclose(held.probabilities.sum(1), 1.0, atol=1e-5)
    assert (held.probabilities.argmax(1) == labels.argmax(1)).mean() > 0.9


def test_multilabel_heads_of_each_type():
    features, mirrored, labels = _backbone_features(seed=5)
    labels = np.hstack([labels, labels[:, :1] | labels[:, 1:2]])  # a fourth tag on two tags' images
    for kind in (REGULAR, ADVANCED):
        head = kind.fit(features, labels, multilabel=True, mirrored=mirrored)
        p = head.predict_proba(head.input_from(features, mirrored))
        assert head.multilabel and ((p >= 0.5) == labels).mean() > 0.95


def test_training_type_names():
    assert training_type(None) is REGULAR and training_type("Regular") is REGULAR
    assert training_type("advanced") is ADVANCED
    with pytest.raises(ValueError, match="trainingType"):
        training_type("Fast")


# ---- what a head records about its input, saved and loaded -----------------------------------------------

def _saved(head: Head) -> Head:
    buf = io.BytesIO()
    head.save(buf)
    return Head.load(io.BytesIO(buf.getvalue()))


def test_heads_keep_their_inputs_through_save_and_load():
    features, mirrored, labels = _backbone_features(seed=6)
    for kind in (REGULAR, ADVANCED):
        head = kind.fit(features, labels, multilabel=False, mirrored=mirrored)
        loaded = _saved(head)
        assert loaded.inputs == head.inputs and loaded.test_time_flip == head.test_time_flip
        np.testing.assert_array_equal(loaded.weights, head.weights)
        np.testing.assert_array_equal(loaded.predict_proba(loaded.input_from(features, mirrored)),
                                      head.predict_proba(head.input_from(features, mirrored)))


@pytest.mark.parametrize("width", [CNN_DIM, FEATURE_DIM])
def test_heads_saved_before_inputs_were_recorded_read_the_whole_lite0_output(width):
    rng = np.random.default_rng(7)
    weights = rng.normal(0, 0.05, (width, 3)).astype(np.float32)
    bias = rng.normal(0, 0.5, 3).astype(np.float32)
    stored = io.BytesIO()  # as the trainer stored heads then
    np.savez(stored, weights=weights, bias=bias, multilabel=np.array(False))
    head = Head.load(io.BytesIO(stored.getvalue()))
    assert head.inputs == LEGACY_INPUTS and head.weights.shape == (FEATURE_DIM, 3) and not head.test_time_flip
    features = rng.gamma(1.0, 0.3, (4, FEATURE_DIM)).astype(np.float32)
    logits = features[:, :width].astype(np.float64) @ weights + bias
    want = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(head.predict_proba(head.input_from({LITE0.name: features})),
                               want / want.sum(1, keepdims=True), atol=1e-5)


def test_a_head_refuses_inputs_that_do_not_fit():
    with pytest.raises(ValueError, match="cannot read"):
        Head(np.zeros((100, 2), np.float32), np.zeros(2, np.float32), False, (HeadInput(LITE0.name, CNN_DIM),))
    head = Head(np.zeros((CNN_DIM, 2), np.float32), np.zeros(2, np.float32), False, (HeadInput(LITE2.name, CNN_DIM),))
    with pytest.raises(ValueError, match="reads 1280"):
        head.input_from({LITE2.name: np.zeros((1, 100), np.float32)})
    with pytest.raises(KeyError):
        head.input_from({LITE0.name: np.zeros((1, FEATURE_DIM), np.float32)})


def test_both_types_train_on_the_squash_view_and_say_so_in_the_head():
    features, mirrored, labels = _backbone_features(seed=9)
    for kind in (REGULAR, ADVANCED):
        assert kind.resize == "squash"
        head = _saved(kind.fit(features, labels, multilabel=False, mirrored=mirrored))
        assert head.resize == "squash"
    assert REGULAR.cache_keys() == {LITE0.name: "efficientnet-lite0/v2/squash"}
    assert ADVANCED.cache_keys(mirrored=True) == {LITE0.name: "efficientnet-lite0/v2/squash/mirrored",
                                                  LITE2.name: "efficientnet-lite2/v1/squash/mirrored"}


def test_heads_saved_before_the_resize_was_recorded_read_the_short_side_crop():
    head = fit_head(np.ones((4, CNN_DIM), np.float32), np.eye(2, dtype=bool)[[0, 1, 0, 1]], False)
    stored = io.BytesIO()  # as phase 1 of the training types stored heads: inputs, flip, transform, no resize
    np.savez(stored, weights=head.weights, bias=head.bias, multilabel=np.array(False),
             input_backbones=np.array([LITE0.name]), input_widths=np.array([CNN_DIM]),
             test_time_flip=np.array(False), transform=np.array("none"))
    assert Head.load(io.BytesIO(stored.getvalue())).resize == "short-side"
    with pytest.raises(ValueError, match="resize"):
        Head(head.weights, head.bias, False, head.inputs, resize="stretch")


def test_at_int8_a_type_reads_the_int8_twins_of_the_same_networks():
    """`--precision int8`: the head names the int8 backbones (so the iteration keeps them), widths unchanged;
    their cached features have keys of their own; exports build the twin's float network."""
    from cvlocal.model import backbone as bb

    int8 = training_type("advanced", "int8")
    assert int8.backbones == ("efficientnet-lite0-int8", "efficientnet-lite2-int8")
    assert [i.width for i in int8.inputs] == [i.width for i in ADVANCED.inputs]
    assert (int8.name, int8.c, int8.transform, int8.resize) == (ADVANCED.name, ADVANCED.c, "sqrt", ADVANCED.resize)
    assert training_type("Regular", "fp32") is REGULAR
    assert not set(int8.cache_keys().values()) & set(ADVANCED.cache_keys().values())
    assert bb.at_precision("efficientnet-lite0-int8", "fp32") == LITE0.name
    assert bb.backbone_model_bytes("efficientnet-lite0-int8") is bb.backbone_model_bytes(LITE0.name)
    with pytest.raises(ValueError, match="precision must be one of"):
        training_type("Regular", "int4")


def test_int8_is_for_cpus_with_vnni_and_says_so_where_there_is_none(tmp_path):
    """Read from the CPU's flags (/proc/cpuinfo's format): any of AVX512-VNNI, AVX-VNNI, AMX-INT8 will do."""
    from cvlocal.model.quantised import PrecisionUnavailable, has_vnni, require_vnni

    avx2 = tmp_path / "avx2"
    avx2.write_text("processor\t: 0\nflags\t\t: fpu sse4_2 avx avx2 fma avx512f\n")
    sapphire = tmp_path / "sapphire"
    sapphire.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni amx_int8\n")
    assert not has_vnni(avx2) and has_vnni(sapphire) and not has_vnni(tmp_path / "absent")
    require_vnni(sapphire)
    with pytest.raises(PrecisionUnavailable, match="needs a CPU with VNNI.*--precision fp32"):
        require_vnni(avx2)
