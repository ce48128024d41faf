"""The Custom Vision quickstart's case: 10 Hemlock + 10 Japanese Cherry photos, then a hemlock sprig on a dark
grey background. We do not have the quickstart's test photo, so each hemlock photo (a dark sprig against a
bright sky) is made into one of that kind: the sprig kept (pixels darker than an Otsu threshold on luminance),
everything else dark grey, cropped to the sprig. Each is predicted by a head trained on the 19 other photos.
"""
from __future__ import annotations

import numpy as np
import pytest

from cvlocal.model.backbone import LITE0, get_backbone
from cvlocal.model.head import fit_head
from cvlocal.model.preprocess import decode_for_model
from cvlocal.model.training_types import REGULAR
from harness.images import on_dark_grey

pytestmark = [pytest.mark.datasets, pytest.mark.slow]


@pytest.fixture(scope="module")
def trees(datasets):
    files = sorted((datasets / "trees").glob("*/*.jpg"))
    tags = sorted({f.parent.name for f in files})
    labels = np.eye(len(tags), dtype=bool)[[tags.index(f.parent.name) for f in files]]
    raw = [f.read_bytes() for f in files]
    pixels = np.stack([decode_for_model(d, resize=REGULAR.resize) for d in raw])
    lite0 = get_backbone(LITE0.name)
    features = lite0.features(pixels)
    mirrored = lite0.features(np.ascontiguousarray(pixels[:, :, ::-1]))
    hemlock = [i for i, f in enumerate(files) if f.parent.name == "Hemlock"]
    test = lite0.features(np.stack([decode_for_model(on_dark_grey(raw[i]), resize=REGULAR.resize) for i in hemlock]))
    return tags.index("Hemlock"), labels, features, mirrored, hemlock, test


def test_regular_says_hemlock_for_a_hemlock_sprig_on_dark_grey(trees):
    column, labels, features, mirrored, hemlock, test = trees
    probabilities = []
    for i, x in zip(hemlock, test):
        others = np.arange(len(labels)) != i  # the photo the test image was made from is held out
        head = REGULAR.fit({LITE0.name: features[others]}, labels[others], False, {LITE0.name: mirrored[others]})
        probabilities.append(head.predict_proba(head.input_from({LITE0.name: x[None]}))[0, column])
    assert min(probabilities) >= 0.8, np.round(probabilities, 3)


def test_the_head_before_this_did_not(trees):
    """Standardised channels + thumbnail (the head every iteration trained before had): on the same test
    photos, hemlocks fall under 0.8 (measured: 6 of 10 under 0.8, one at 0.00; Regular: all >= 0.97)."""
    column, labels, features, _, hemlock, test = trees
    probabilities = []
    for i, x in zip(hemlock, test):
        others = np.arange(len(labels)) != i
        probabilities.append(fit_head(features[others], labels[others], False).predict_proba(x[None])[0, column])
    assert sum(p < 0.8 for p in probabilities) >= 3, np.round(probabilities, 3)
