"""Benchmark 4, accuracy: cross-validated accuracy and mean AP of the service's model against a pixel baseline.

For the fruit photos (45), the trees (20) and scikit-learn's handwritten digits (1,797, written as 64x64 PNGs
the way `make demo` writes them), in this process with the service's own code: the images go through the
service's preprocessing (`decode_for_model`), then either the backbone (what the service trains on: the
EfficientNet-Lite0 channels and a 16x16 colour thumbnail of the crop, 2,048 values) or the baseline (the same
224x224 crop downscaled to 16x16 RGB, raw pixels: 768 values). Both get the same head and the same held-out
evaluation the service runs (`cross_validate`: stratified k-fold, C chosen per fold); accuracy is the share of
images whose top held-out probability is their tag, mean AP is the service's `averagePrecision` (mean over tags
of the per-tag AP). The service's features contain the baseline's pixels (the thumbnail is the same 16x16
downscale), so the table also shows the ImageNet channels alone: what each part adds.

Target: the service's model at least as accurate as the baseline on each set.
"""
from __future__ import annotations

import numpy as np

from bench.common import Check, Section, digits_images, labelled_files


def pixels_baseline(batch: np.ndarray) -> np.ndarray:
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(x).resize((16, 16), Image.Resampling.BOX), np.float32).ravel()
                     for x in batch])


def evaluate(features: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    from cvlocal.model.evaluation import cross_validate, performance

    k = int(labels.max()) + 1
    onehot = np.eye(k, dtype=bool)[labels]
    held = cross_validate(features, onehot, multilabel=False)
    accuracy = float((held.probabilities.argmax(axis=1) == labels).mean())
    mean_ap = performance(held, 0.5, [(str(i), str(i)) for i in range(k)])["averagePrecision"]
    return accuracy, mean_ap


def datasets(quick: bool):
    for name, folders in (("fruit", ("fruit",)), ("trees", ("trees",))):
        files = labelled_files(*folders)
        tags = sorted({t for _, t in files})
        yield name, [f.read_bytes() for f, _ in files], np.array([tags.index(t) for _, t in files])
    images, targets = digits_images()
    if quick:
        images, targets = images[:300], targets[:300]
    yield "digits", images, np.array(targets)


def run(quick: bool = False) -> Section:
    from cvlocal.model.backbone import CNN_DIM, get_backbone
    from cvlocal.model.preprocess import decode_for_model

    section = Section("accuracy", "Accuracy: cross-validated, against a raw-pixel baseline",
                      __doc__.split("\n\n")[1])
    rows = []
    for name, images, labels in datasets(quick):
        pixels = np.stack([decode_for_model(d) for d in images])
        features = get_backbone().features(pixels)
        model_acc, model_ap = evaluate(features, labels)
        channels_acc, channels_ap = evaluate(features[:, :CNN_DIM], labels)
        base_acc, base_ap = evaluate(pixels_baseline(pixels), labels)
        rows.append([name, len(images), int(labels.max()) + 1, f"{model_acc:.1%}", f"{model_ap:.1%}",
                     f"{channels_acc:.1%}", f"{channels_ap:.1%}", f"{base_acc:.1%}", f"{base_ap:.1%}"])
        better = model_acc >= base_acc and model_ap >= base_ap
        section.checks.append(Check(f"{name}: accuracy / mean AP vs baseline",
                                    f"{model_acc:.1%} / {model_ap:.1%} vs {base_acc:.1%} / {base_ap:.1%}",
                                    ">= baseline", better))
    section.table("Held-out (cross-validated) accuracy and mean AP",
                  ["set", "images", "tags", "model accuracy", "model mean AP", "ImageNet channels alone: accuracy",
                   "channels alone: mean AP", "baseline accuracy", "baseline mean AP"], rows)
    section.notes.append("Digits are 8x8 drawings upscaled: frozen ImageNet channels describe photographs, and "
                         "on these alone they trail the raw pixels; with the thumbnail beside them the model "
                         "beats both (the channels alone were the service's features before this benchmark).")
    return section


if __name__ == "__main__":
    import sys

    from bench.report import print_section

    print_section(run(quick="--quick" in sys.argv))
