"""Custom Vision's training rules, in one place: what a training needs, and what a training set must be.

Checked when `train` is called, in this order:
- the training type (`Regular` or `Advanced`, which needs a budget of at least an hour) - `check_training_type`;
- (regions, as uploads and imports bring them: inside the image, a positive size, at most 300 an image -
  `box_problem`);
- the training set: at least MIN_TAGS tags with at least MIN_IMAGES_PER_TAG images each - `check_training_set`;
  object detection: at least one tag, each with at least MIN_DETECTION_IMAGES_PER_TAG images that have regions
  of it, and no Negative tag with regions - `check_detection_set`;
- then, atomically with creating the iteration (the store checks them in its transaction): one training of a
  project at a time, nothing changed since the last trained iteration unless forced, at most the pricing
  tier's iterations kept (cvlocal/tiers: 20 on every tier).
Checked by the training job, which fails the iteration with the reason: a Multiclass project's images carry one
tag each - `label_matrix`.
"""
from __future__ import annotations

import math

import numpy as np

from .. import errors
from ..store.records import SnapshotEntry, TagRef, TrainingSet

TRAINING_TYPES = ("Regular", "Advanced")
MIN_TAGS = 2
MIN_IMAGES_PER_TAG = 5
# Azure's "Limits and quotas": "Min labeled images per Tag, Object Detection (50+ recommended)": 15.
MIN_DETECTION_TAGS = 1
MIN_DETECTION_IMAGES_PER_TAG = 15
# "Max number of regions per image (object detection)": 300 on F0 and S0. Azure documents no smallest box.
MAX_REGIONS_PER_IMAGE = 300
EDGE = 1e-6  # a box computed as x / width may end a rounding error past the image's edge


def box_problem(left: float, top: float, width: float, height: float) -> str | None:
    """Why Azure would refuse this region's box (normalised to the image: inside it, a positive size), or None."""
    values = (left, top, width, height)
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        return "left, top, width and height must be finite numbers"
    if left < 0 or top < 0 or left > 1 or top > 1:
        return "left and top must be in [0, 1] (normalised to the image)"
    if width <= 0 or height <= 0:
        return "width and height must be greater than 0"
    if left + width > 1 + EDGE or top + height > 1 + EDGE:
        return "the box extends past the image (left + width and top + height must be at most 1)"
    return None


def check_training_type(training_type: str, reserved_budget_hours: int) -> None:
    if training_type not in TRAINING_TYPES:
        raise errors.bad_request(f"Unknown trainingType '{training_type}'; use Regular or Advanced.")
    if training_type == "Advanced" and reserved_budget_hours < 1:
        raise errors.bad_request("Advanced training needs reservedBudgetInHours of at least 1.",
                                 "BadRequestReservedBudgetInHoursNotEnoughForAdvancedTraining")


def check_training_set(training_set: TrainingSet) -> None:
    counts = training_set.image_counts()
    short = [f"'{name}' ({counts[tid]})" for tid, name in training_set.tags if counts[tid] < MIN_IMAGES_PER_TAG]
    if len(training_set.tags) < MIN_TAGS or short:
        reason = (f"Not enough images: classification needs at least {MIN_TAGS} tags with at least "
                  f"{MIN_IMAGES_PER_TAG} images each. ")
        reason += (f"Tags short of images: {', '.join(short)}." if short
                   else f"The project has {len(training_set.tags)} tag(s).")
        raise errors.bad_request(reason, "BadRequestTrainingValidationFailed")


def check_detection_set(training_set: TrainingSet) -> None:
    """An object detection training set: each tag it trains (every Regular tag, or the selected ones) has regions
    on at least MIN_DETECTION_IMAGES_PER_TAG images."""
    if training_set.negative_tags_with_regions:
        raise errors.bad_request(f"Object detection does not train on Negative tags, and regions carry "
                                 f"{', '.join(repr(n) for n in training_set.negative_tags_with_regions)}; delete "
                                 "those regions or leave the tag out (selectedTags).",
                                 "BadRequestDetectionTrainingNotAllowNegativeTag")
    counts = training_set.image_counts()
    short = [f"'{name}' ({counts[tid]})" for tid, name in training_set.tags
             if counts[tid] < MIN_DETECTION_IMAGES_PER_TAG]
    if len(training_set.tags) < MIN_DETECTION_TAGS or short:
        reason = (f"Not enough images with regions: object detection needs at least "
                  f"{MIN_DETECTION_IMAGES_PER_TAG} images with regions of each tag it trains. ")
        reason += (f"Tags short of images: {', '.join(short)}." if short else "The project has no tag.")
        raise errors.bad_request(reason, "BadRequestTrainingValidationFailed")


def label_matrix(tags: tuple[TagRef, ...], snapshot: tuple[SnapshotEntry, ...], multilabel: bool) -> np.ndarray:
    """[images, tags] booleans in the model's column order; ValueError (the iteration's failure reason) when a
    Multiclass project has an image with several tags."""
    column = {tag_id: i for i, (tag_id, _) in enumerate(tags)}
    labels = np.zeros((len(snapshot), len(tags)), bool)
    for i, (_, tag_ids) in enumerate(snapshot):
        labels[i, [column[t] for t in tag_ids]] = True
    if not multilabel:
        several = int((labels.sum(axis=1) > 1).sum())
        if several:
            raise ValueError(f"{several} image(s) carry more than one tag, but the project is Multiclass; "
                             "give each image one tag or make the project Multilabel.")
    return labels
