"""The projects the export tests share (tests/integration/conftest.py: one of each for the whole session):
fruit, and grocery trained on 5 photos a tag of `train/`, each on General (compact), trained as Advanced then as
Regular and published; what the service answers for a photo is asked once and kept, and each export is built
once and kept, so every test module that checks an export against the service reuses both.

Also the photo sets the tests compare on (Microsoft's ONNX sample client, the one every ONNX test feeds the
export through, is export_samples.SampleModel)."""
from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

from harness.engines import EngineMissing, skip_or_fail
from harness.rest import Rest
from harness.service import PREDICTION_RESOURCE_ID

GENERAL_COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"
KSHOT = 5  # grocery photos a tag to train on: enough to be a real model, few enough to train in a minute
KINDS = ("Regular", "Advanced")
TOLERANCE = 0.02  # the most a probability of an export may differ from the service's


def kshot(files: list[Path], k: int, seed: int = 0) -> list[Path]:
    """k photos a tag, drawn with a fixed seed (bench/accuracy.py draws its k-shot sets the same way)."""
    rng = np.random.default_rng(seed)
    by_tag: dict[str, list[Path]] = {}
    for f in sorted(files):
        by_tag.setdefault(f.parent.name, []).append(f)
    return [by_tag[t][i] for t in sorted(by_tag) for i in sorted(rng.permutation(len(by_tag[t]))[:k])]


def photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*/*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def fruit_photos(datasets: Path) -> list[Path]:
    """Every fruit photo: fruit (what the fruit project trains on) and fruit-extra."""
    return photos(datasets / "fruit") + photos(datasets / "fruit-extra")


def grocery_val_photos(datasets: Path) -> list[Path]:
    return photos(datasets / "grocery-store" / "val")


def every(files: list[Path], n: int) -> list[Path]:
    """A subset stratified by tag: every n-th photo of each tag (each tag's first among them)."""
    by_tag: dict[str, list[Path]] = {}
    for f in files:
        by_tag.setdefault(f.parent.name, []).append(f)
    return [f for tag in sorted(by_tag) for f in by_tag[tag][::n]]


class Trained:
    """A compact-domain project trained as Advanced, then as Regular; both published."""

    def __init__(self, rest: Rest, name: str, files: list[Path]):
        self.rest, self.label = rest, name
        self.pid = rest.project(domain_id=GENERAL_COMPACT)
        tags = {t: rest.tag(self.pid, t) for t in sorted({f.parent.name for f in files})}
        for tag, tag_id in tags.items():
            batch = [f.read_bytes() for f in files if f.parent.name == tag]
            for start in range(0, len(batch), 64):
                r = rest.upload(self.pid, tag_id, batch[start:start + 64])
                assert r.status_code == 200, r.text
        self.iterations: dict[str, str] = {}
        self._served: dict[tuple[str, str], list[dict]] = {}
        self._packages: dict[tuple[str, str, str | None], bytes] = {}
        # Advanced first: Regular then finds its Lite0 features (the same view) cached.
        for kind, params in (("Advanced", {"trainingType": "Advanced", "reservedBudgetInHours": 1}),
                             ("Regular", {"forceTrain": "true"})):
            iid = rest.train(self.pid, timeout=900, **params)  # grocery's Advanced: minutes on a busy machine
            self.iterations[kind] = iid
            r = rest.training("POST", f"/projects/{self.pid}/iterations/{iid}/publish",
                              params={"publishName": f"{name}-{kind}", "predictionId": PREDICTION_RESOURCE_ID})
            assert r.status_code == 200, r.text

    def package(self, kind: str, platform: str, flavor: str | None = None) -> zipfile.ZipFile:
        """The iteration's export to the platform, built once (export_iteration, get_exports until Done,
        the download link)."""
        key = (kind, platform, flavor)
        if key not in self._packages:
            export = self.rest.export(self.pid, self.iterations[kind], platform, flavor)
            assert export["status"] == "Done", export
            download = self.rest.http.get(export["downloadUri"])
            assert download.status_code == 200
            self._packages[key] = download.content
        return zipfile.ZipFile(io.BytesIO(self._packages[key]))

    def served(self, kind: str, data: bytes) -> list[dict]:
        """The prediction API's answer for the photo, most probable tag first (asked once)."""
        key = (kind, hashlib.sha256(data).hexdigest())
        if key not in self._served:
            r = self.rest.prediction("POST", f"/{self.pid}/classify/iterations/{self.name(kind)}/image/nostore",
                                     content=data, headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 200, r.text
            self._served[key] = r.json()["predictions"]
        return self._served[key]

    def served_probabilities(self, kind: str, data: bytes, labels: list[str]) -> np.ndarray:
        by_tag = {p["tagName"]: p["probability"] for p in self.served(kind, data)}
        return np.array([by_tag[t] for t in labels])

    def name(self, kind: str) -> str:
        return f"{self.label}-{kind}"


# ---- comparing an export's answers with the service's --------------------------------------------------------

def needs(module: str):
    try:
        return __import__(module)
    except ImportError:
        skip_or_fail(EngineMissing(f"{module} is missing: pip install -c constraints.txt -e '.[exports]'"))


def labels_of(package) -> list[str]:
    return package.read("labels.txt").decode().splitlines()


def agreement(trained: Trained, kind: str, labels: list[str], files: list[Path], got: np.ndarray
              ) -> tuple[list[str], float, int]:
    """(photos whose top tag differs from the service's, the largest probability difference, close calls).

    A close call is a photo whose top tag differs only because the service's two tags were nearer each other
    than the export's own error on that photo (their probabilities within twice its largest difference): a
    float16 or bfloat16 rounding that moves every probability by less than the tolerance may swap a tie. It is
    counted, not failed; a float32 export's error (~1e-6) leaves no room for one."""
    assert got.shape == (len(files), len(labels))
    wrong, worst, close = [], 0.0, 0
    for f, row in zip(files, got):
        served = trained.served_probabilities(kind, f.read_bytes(), labels)
        difference = float(np.abs(row - served).max())
        worst = max(worst, difference)
        exported_top, served_top = int(np.argmax(row)), int(np.argmax(served))
        if exported_top == served_top:
            continue
        if served[served_top] - served[exported_top] <= 2 * difference:
            close += 1
        else:
            wrong.append(f"{f.parent.name}/{f.name}: export {labels[exported_top]}, service {labels[served_top]}")
    return wrong, worst, close


def check_agrees(trained, kind, labels, files, got, tolerance=TOLERANCE):
    """The export's top tag is the service's on every photo but close calls (see `agreement`), and each tag's
    probability within `tolerance`."""
    wrong, worst, close = agreement(trained, kind, labels, files, got)
    print(f"{trained.label} {kind}: {len(files)} photos, {len(wrong)} top tags differ, {close} close calls, "
          f"largest probability difference {worst:.4f}")  # shown with -rP: the figures docs/benchmarks.md quotes
    assert wrong == [] and worst <= tolerance, (wrong, worst)
    return worst
