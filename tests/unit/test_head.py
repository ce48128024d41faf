"""The trained head: affine model, softmax/sigmoid semantics, regularisation rule, persistence."""
from __future__ import annotations

import numpy as np
import pytest

from cvlocal.model import head as head_module
from cvlocal.model.head import Head, choose_c, fit_head


def _clusters(n_per_tag=10, tags=3, dim=40, spread=0.3, seed=0):
    """Well separated Gaussian clusters: features [N, dim], one-hot labels [N, tags]."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(tags, dim)) * 3
    y = np.repeat(np.arange(tags), n_per_tag)
    x = centres[y] + spread * rng.normal(size=(len(y), dim))
    return x.astype(np.float32), np.eye(tags, dtype=bool)[y]


def test_multiclass_probabilities_are_a_confident_softmax():
    x, y = _clusters()
    head = fit_head(x, y, multilabel=False)
    assert head.weights.shape == (40, 3) and head.weights.dtype == np.float32
    assert head.bias.shape == (3,) and head.bias.dtype == np.float32
    p = head.predict_proba(x)
    assert p.dtype == np.float32 and p.shape == (30, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert (p.argmax(axis=1) == y.argmax(axis=1)).all()
    assert p[y].min() > 0.9  # separable training data: confident, not hedging near 1/K


def test_model_is_affine_in_the_raw_features():
    """Standardisation is folded into weights/bias: predict_proba == softmax(x @ W + b), nothing else."""
    x, y = _clusters(seed=1)
    head = fit_head(x, y, multilabel=False)
    z = x.astype(np.float64) @ head.weights + head.bias
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(head.predict_proba(x), expected, atol=1e-5)


def test_fit_is_invariant_to_per_feature_scale_and_offset():
    """Because features are standardised first, rescaling a feature does not change the model."""
    x, y = _clusters(seed=2, spread=2.0)
    scale = np.linspace(0.01, 100, x.shape[1]).astype(np.float32)
    p1 = fit_head(x, y, multilabel=False).predict_proba(x)
    p2 = fit_head(x * scale + 5.0, y, multilabel=False).predict_proba(x * scale + 5.0)
    np.testing.assert_allclose(p1, p2, atol=2e-3)


def test_matches_scikit_learn_logistic_regression_at_the_same_c():
    from sklearn.linear_model import LogisticRegression

    x, y = _clusters(n_per_tag=30, spread=4.0, seed=3)
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    ours = fit_head(z, y, multilabel=False, c=0.1).predict_proba(z)
    theirs = LogisticRegression(C=0.1, tol=1e-6, max_iter=1000).fit(z, y.argmax(axis=1)).predict_proba(z)
    np.testing.assert_allclose(ours, theirs, atol=2e-3)


def test_multilabel_uses_independent_sigmoids():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(80, 10)).astype(np.float32)
    y = np.stack([x[:, 0] > 0, x[:, 1] > 0], axis=1)  # images with both tags, one, or none
    head = fit_head(x, y, multilabel=True)
    p = head.predict_proba(x)
    assert head.multilabel and p.shape == (80, 2)
    assert ((p >= 0.5) == y).mean() > 0.95
    both = y.all(axis=1)
    assert (p[both] >= 0.5).all(axis=1).mean() > 0.9  # several tags at once, which softmax cannot do
    assert not np.allclose(p.sum(axis=1), 1.0)


def test_tags_that_cannot_be_learnt_get_constant_outputs():
    x, y = _clusters(tags=2)
    unused = np.zeros((len(y), 1), dtype=bool)
    p = fit_head(x, np.hstack([y, unused]), multilabel=False).predict_proba(x)
    assert p[:, 2].max() < 1e-6 and (p[:, :2].argmax(axis=1) == y.argmax(axis=1)).all()

    always = np.ones((len(y), 1), dtype=bool)
    p = fit_head(x, np.hstack([y, always]), multilabel=True).predict_proba(x)
    assert p[:, 2].min() > 0.9 and np.ptp(p[:, 2]) < 1e-6

    one_tag = fit_head(x, np.ones((len(y), 1), dtype=bool), multilabel=False)
    np.testing.assert_allclose(one_tag.predict_proba(x), 1.0)


def test_multiclass_rows_without_a_tag_are_ignored():
    x, y = _clusters(tags=2)
    y_with_untagged = y.copy()
    y_with_untagged[:3] = False
    p = fit_head(x, y_with_untagged, multilabel=False).predict_proba(x)
    assert (p.argmax(axis=1) == y.argmax(axis=1)).all()
    with pytest.raises(ValueError):
        fit_head(x, np.zeros_like(y), multilabel=False)


def test_regularisation_rule():
    rng = np.random.default_rng(5)
    small = rng.normal(size=(60, 8)).astype(np.float32)
    labels = np.eye(3, dtype=bool)[np.arange(60) % 3]
    assert choose_c(small, labels, multilabel=False) == head_module.DEFAULT_C
    # Plenty of images with label noise: the held-out search picks a value from the grid.
    big = rng.normal(size=(600, 8)).astype(np.float32)
    noisy = np.eye(3, dtype=bool)[(big[:, 0] > 0).astype(int) + (rng.random(600) < 0.3)]
    assert choose_c(big, noisy, multilabel=False) in head_module.C_GRID


def test_save_and_load_round_trip(tmp_path):
    x, y = _clusters()
    for multilabel in (False, True):
        head = fit_head(x, y, multilabel=multilabel)
        path = tmp_path / f"head-{multilabel}.bin"  # any name: nothing is appended to it
        head.save(path)
        loaded = Head.load(path)
        assert loaded.multilabel is multilabel
        np.testing.assert_array_equal(loaded.weights, head.weights)
        np.testing.assert_array_equal(loaded.bias, head.bias)
        np.testing.assert_array_equal(loaded.predict_proba(x), head.predict_proba(x))


def test_unstandardised_fit_is_scikit_learns_on_the_features_as_they_are():
    from sklearn.linear_model import LogisticRegression

    x, y = _clusters(n_per_tag=30, spread=4.0, seed=7)
    x = x * np.linspace(0.1, 3.0, x.shape[1]).astype(np.float32) + 1.0  # unequal scales: standardising matters
    ours = fit_head(x, y, multilabel=False, c=0.5, standardise=False).predict_proba(x)
    theirs = LogisticRegression(C=0.5, tol=1e-8, max_iter=5000).fit(x, y.argmax(axis=1)).predict_proba(x)
    np.testing.assert_allclose(ours, theirs, atol=2e-3)
    standardised = fit_head(x, y, multilabel=False, c=0.5).predict_proba(x)
    assert np.abs(standardised - theirs).max() > 0.01


def test_a_head_refuses_an_input_of_the_wrong_width():
    x, y = _clusters()
    head = fit_head(x, y, multilabel=False)
    with pytest.raises(ValueError, match=r"\[N, 40\]"):
        head.predict_proba(np.zeros((2, 41), np.float32))


@pytest.mark.parametrize("multilabel", [False, True])
def test_a_fit_split_over_threads_or_started_from_a_nearby_head_finds_the_same_head(multilabel):
    """What the trainer does to save time (training/jobs.py): the fit's rows in blocks over threads, and each
    cross-validation fold started from the head of every image. Both end where a plain fit ends."""
    x, y = _clusters(n_per_tag=400, spread=4.0, seed=5)
    if multilabel:
        y = y | np.roll(y, 1, axis=1) & (np.arange(len(y)) % 3 == 0)[:, None]
    plain = fit_head(x, y, multilabel, c=1.0, standardise=False)
    threaded = fit_head(x, y, multilabel, c=1.0, standardise=False, workers=2)
    np.testing.assert_allclose(threaded.predict_proba(x), plain.predict_proba(x), atol=2e-3)
    fold = np.arange(len(x)) % 5 != 0
    cold = fit_head(x[fold], y[fold], multilabel, c=1.0)
    warm = fit_head(x[fold], y[fold], multilabel, c=1.0, start=fit_head(x, y, multilabel, c=1.0))
    np.testing.assert_allclose(warm.predict_proba(x), cold.predict_proba(x), atol=5e-3)  # both stop at gtol
    with pytest.raises(ValueError, match="cannot start a fit"):
        fit_head(x[:, :10], y, multilabel, start=plain)
