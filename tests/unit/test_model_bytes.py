"""A trained head and its held-out evaluation as the store keeps them: one writer, one reader each."""
from __future__ import annotations

import numpy as np

from cvlocal.model.evaluation import HeldOut, cross_validate, performance
from cvlocal.model.head import Head, fit_head


def test_head_and_held_out_round_trip_through_bytes():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)).astype(np.float32)
    y = np.eye(2, dtype=bool)[(x[:, 0] > 0).astype(int)]
    head = fit_head(x, y, multilabel=False)
    again = Head.from_bytes(head.to_bytes())
    np.testing.assert_array_equal(again.predict_proba(x), head.predict_proba(x))
    assert again.multilabel is False
    held = cross_validate(x, y, multilabel=False)
    back = HeldOut.from_bytes(held.to_bytes())
    tags = [("a", "a"), ("b", "b")]
    assert performance(back, 0.5, tags) == performance(held, 0.5, tags)
    np.testing.assert_array_equal(back.folds, held.folds)
