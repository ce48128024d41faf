"""Custom Vision's training types as recipes: which backbone features a head reads, how it is fitted.

`Regular` (the portal's "Quick training") and `Advanced` differ in what they cost and what they give; both
fit one linear head (`fit_head`) on frozen ImageNet features, unstandardised, at C = 3, with every training
image's mirror image as a second training row. Chosen on real photo sets (grocery-store products and 5/10/20-shot
subsets of them, the fruit and the trees sets) against a plain probe, scikit-learn's `LogisticRegression()` on
the raw Lite0 channels (docs/benchmarks.md has the table):

- Regular: the 1,280 Lite0 channels (the first 1,280 values of the Lite0 graph's output, so cached feature
  vectors stay valid). One Lite0 run per prediction. Against the probe: the same accuracy within a point on
  every set, a higher probability for the true tag on every set (+0.05 to +0.08 on the grocery sets). The
  colour thumbnail and per-dimension standardisation (the heads before these) cost 1-8 points on photos.
- Advanced: Lite0 and Lite2 channels side by side, square-rooted. A Lite0 and a Lite2 run per prediction,
  about three times Regular's cost. 6-8 points above Regular on the grocery sets. Averaging the image with its
  mirror image at prediction time doubled the cost and gained nothing on average, so it is not done.

Everything here is pure: callers pass the backbones' features (`{backbone name: [N, D]}`, and the same for
the mirrored images where `needs_mirrored`), computed and cached per backbone by the service.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np

from .backbone import CNN_DIM, LITE0, LITE2, at_precision, backbone_spec
from .evaluation import HeldOut, cross_validate
from .head import Head, HeadInput, apply_transform, assemble, fit_head
from .preprocess import SQUASH

Features = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class TrainingType:
    name: str  # Custom Vision's trainingType value
    inputs: tuple[HeadInput, ...]
    mirrored_rows: bool  # every training image's mirror image is a training row too
    test_time_flip: bool  # predictions average the features of the image and its mirror image
    c: float
    transform: str = "none"
    standardise: bool = False
    resize: str = SQUASH  # how images reach the backbones (model/preprocess.py), recorded in the head

    def cache_keys(self, mirrored: bool = False) -> dict[str, str]:
        """Backbone -> the key its cached feature vectors of this preprocessing (and view) are stored under."""
        return {b: backbone_spec(b).cache_key(mirrored, self.resize) for b in self.backbones}

    def at_precision(self, precision: str) -> "TrainingType":
        """This type reading the same networks at `precision` ("int8": their int8 twins, model/quantised.py)."""
        return replace(self, inputs=tuple(HeadInput(at_precision(i.backbone, precision), i.width)
                                          for i in self.inputs))

    @property
    def backbones(self) -> tuple[str, ...]:
        """The backbones whose features training and prediction need, in head input order."""
        return tuple(dict.fromkeys(i.backbone for i in self.inputs))

    @property
    def needs_mirrored(self) -> bool:
        """Whether training needs each backbone's features of the mirrored images too."""
        return self.mirrored_rows or self.test_time_flip

    def _views(self, features: Features, mirrored: Features | None) -> tuple[np.ndarray, list[np.ndarray]]:
        """(what an image is predicted from, the training rows' views), both [N, D], transformed."""
        def t(x):
            return apply_transform(self.transform, x)

        plain = assemble(self.inputs, features)
        if not self.needs_mirrored:
            return t(plain), [t(plain)]
        if mirrored is None:
            raise ValueError(f"{self.name} training needs the features of the mirrored images too")
        flipped = assemble(self.inputs, mirrored)
        predicted_from = t((plain + flipped) / 2 if self.test_time_flip else plain)
        return predicted_from, ([t(plain), t(flipped)] if self.mirrored_rows else [predicted_from])

    def _fit(self, x: np.ndarray, y: np.ndarray, multilabel: bool, start: Head | None = None,
             workers: int = 1) -> Head:
        return fit_head(x, y, multilabel, c=self.c, standardise=self.standardise, inputs=self.inputs,
                        test_time_flip=self.test_time_flip, transform=self.transform, resize=self.resize,
                        start=start, workers=workers)

    def fit(self, features: Features, labels: np.ndarray, multilabel: bool,
            mirrored: Features | None = None, workers: int = 1) -> Head:
        """The head for these images' features and [N, K] boolean labels (`workers`: threads for the fit)."""
        _, views = self._views(features, mirrored)
        y = np.asarray(labels, bool)
        return self._fit(np.vstack(views), np.vstack([y] * len(views)), multilabel, workers=workers)

    def cross_validate(self, features: Features, labels: np.ndarray, multilabel: bool,
                       mirrored: Features | None = None, start: Head | None = None, workers: int = 1) -> HeldOut:
        """Held-out probabilities for every image, each from a head of this type that did not see it; `start`:
        this type's head trained on every image (`fit`), which the folds start from; `workers`: folds side by side
        (`evaluation.cross_validate`)."""
        predicted_from, views = self._views(features, mirrored)
        return cross_validate(predicted_from, labels, multilabel, fit=self._fit, training_views=views, start=start,
                              workers=workers)


REGULAR = TrainingType("Regular", (HeadInput(LITE0.name, CNN_DIM),), mirrored_rows=True, test_time_flip=False,
                       c=3.0)
ADVANCED = TrainingType("Advanced", (HeadInput(LITE0.name, CNN_DIM), HeadInput(LITE2.name, CNN_DIM)),
                        mirrored_rows=True, test_time_flip=False, c=3.0, transform="sqrt")
TRAINING_TYPES = {t.name: t for t in (REGULAR, ADVANCED)}


def training_type(name: str | None, precision: str = "fp32") -> TrainingType:
    """Custom Vision's `trainingType` ("Regular", the default, or "Advanced"; any letter case), its backbones at
    `precision` (the service's `--precision`)."""
    for key, value in TRAINING_TYPES.items():
        if (name or "Regular").lower() == key.lower():
            return value if precision == "fp32" else value.at_precision(precision)
    raise ValueError(f"trainingType must be one of {sorted(TRAINING_TYPES)}, not {name!r}")
