"""What the benchmarks share: the machine, the datasets, a service on loopback, generated images, tables."""
from __future__ import annotations

import base64
import io
import json
import os
import platform
import random
import shutil
import sqlite3
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from cvlocal.cli import FEATURE_CACHE_VARIABLE
from harness.datasets import find_datasets
from harness.rest import Rest
from harness.service import RunningService

ROOT = Path(__file__).resolve().parents[1]
MAX_TAGS_PER_BATCH = 20  # Azure's rule for one upload batch, which the service keeps


# ---------------------------------------------------------------- the machine and the datasets
def datasets_dir() -> Path:
    """The shared labelled datasets: $CVOPS_DATASETS, else ../shared/datasets (as `make` sets it)."""
    found = find_datasets()
    if found is None:
        raise SystemExit("bench: the shared datasets are missing; set CVOPS_DATASETS to the folder holding fruit/, "
                         "fruit-extra/ and trees/")
    return found


def labelled_files(*folders: str) -> list[tuple[Path, str]]:
    """(file, tag) for every image of these dataset folders (one folder per tag), in a stable order."""
    root = datasets_dir()
    out = []
    for folder in folders:
        for tag_dir in sorted(p for p in (root / folder).iterdir() if p.is_dir()):
            out += [(f, tag_dir.name) for f in sorted(tag_dir.iterdir())
                    if f.suffix.lower() in (".jpg", ".jpeg", ".png")]
    return out


def machine() -> dict[str, Any]:
    import numpy
    import onnxruntime
    import PIL

    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {"cores": len(os.sched_getaffinity(0)), "cpu": model, "memory": memory,
            "python": platform.python_version(), "onnxruntime": onnxruntime.__version__,
            "numpy": numpy.__version__, "pillow": PIL.__version__, "os": platform.platform(terse=True),
            "load_average": os.getloadavg()}


# ---------------------------------------------------------------- measuring
def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def median(values: list[float]) -> float:
    return percentile(values, 50)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size so far (VmHWM), in MB."""
    return _status_kb(pid, "VmHWM") / 1024


def rss_mb(pid: int) -> float:
    return _status_kb(pid, "VmRSS") / 1024


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


# ---------------------------------------------------------------- a service on loopback
@dataclass
class Bench:
    """One service on its own data directory, with a raw HTTP client and the usual calls."""

    service: RunningService
    rest: Rest
    workdir: Path

    @property
    def pid(self) -> int:
        return self.service.process.pid

    def project(self, name: str | None = None) -> str:
        r = self.rest.training("POST", "/projects", params={"name": name or f"bench {uuid.uuid4().hex[:8]}",
                                                           "classificationType": "Multiclass"})
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def upload(self, project_id: str, files: list[tuple[Path | bytes, str]], batch: int = 64) -> dict[str, str]:
        """Upload (file or bytes, tag name) pairs as the SDK does (base64 JSON batches); returns {tag: id}."""
        tag_ids: dict[str, str] = {}
        for _, tag in files:
            if tag not in tag_ids:
                tag_ids[tag] = self.rest.tag(project_id, tag)
        # Azure's batch rules, which the service keeps: at most 64 images and at most 20 tags a batch
        batches, current = [], []
        for item in files:
            if len(current) == batch or len({t for _, t in current} | {item[1]}) > MAX_TAGS_PER_BATCH:
                batches.append(current)
                current = []
            current.append(item)
        batches += [current] if current else []
        start = 0
        for chunk in batches:
            body = {"images": [{"name": f"img{start + i}.jpg",
                                "contents": base64.b64encode(f if isinstance(f, bytes) else f.read_bytes()).decode(),
                                "tagIds": [tag_ids[tag]]} for i, (f, tag) in enumerate(chunk)]}
            start += len(chunk)
            r = self.rest.training("POST", f"/projects/{project_id}/images/files", json=body)
            assert r.status_code == 200, r.text[:500]
        return tag_ids

    def train(self, project_id: str, force: bool = False, timeout: float = 900, **params) -> tuple[str, float]:
        """(iteration id, wall seconds from the train call to Completed, polled every 20 ms); `params` go to
        `train` as they are (trainingType, reservedBudgetInHours)."""
        started = time.perf_counter()
        r = self.rest.training("POST", f"/projects/{project_id}/train",
                               params={**({"forceTrain": "true"} if force else {}), **params})
        assert r.status_code == 200, r.text
        iteration_id = r.json()["id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.rest.training("GET", f"/projects/{project_id}/iterations/{iteration_id}").json()["status"]
            if status != "Training":
                assert status == "Completed", status
                return iteration_id, time.perf_counter() - started
            time.sleep(0.02)
        raise TimeoutError(f"training {iteration_id} did not finish in {timeout} s")

    def publish(self, project_id: str, iteration_id: str, name: str) -> None:
        r = self.rest.training("POST", f"/projects/{project_id}/iterations/{iteration_id}/publish",
                               params={"publishName": name, "predictionId": self.service.prediction_resource_id})
        assert r.status_code == 200, r.text

    def performance(self, project_id: str, iteration_id: str) -> dict:
        r = self.rest.training("GET", f"/projects/{project_id}/iterations/{iteration_id}/performance")
        assert r.status_code == 200, r.text
        return r.json()

    def timings(self, iteration_id: str) -> dict[str, float]:
        """The split the trainer recorded for an iteration (decode_s, features_s, head_s, total_s)."""
        db = sqlite3.connect(f"file:{self.service.data_dir / 'cvlocal.db'}?mode=ro", uri=True, timeout=30)
        try:
            row = db.execute("SELECT timings FROM iterations WHERE id = ?", (iteration_id,)).fetchone()
        finally:
            db.close()
        return json.loads(row[0]) if row else {}

    def warm_up(self) -> None:
        """Train a tiny project so the backbone session exists before anything is timed."""
        from harness.images import photo

        pid = self.project()
        self.upload(pid, [(photo(c, i), c) for c in ("red", "blue") for i in range(5)])
        self.train(pid)


@contextmanager
def running_service(name: str, warm: bool = True, extra_args: list[str] | None = None,
                    tier: str = "unlimited") -> Iterator[Bench]:
    """A fresh `cvlocal serve` child on a throw-away data directory (nothing cached), stopped afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix=f"cvbench-{name}-"))
    service = RunningService(workdir / "data", extra_args=list(extra_args or []), tier=tier,
                             env={FEATURE_CACHE_VARIABLE: ""})  # no feature folder from the caller's shell either
    service.start()
    rest = Rest(service)
    bench = Bench(service, rest, workdir)
    try:
        if warm:
            bench.warm_up()
        yield bench
    finally:
        rest.http.close()
        service.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------- generated images
def derived_images(count: int, seed: int, target: Path) -> list[tuple[Path, str]]:
    """`count` new JPEGs made from the fruit photos by random crops (40-90% of each side) and flips, written
    under `target/<tag>/`; every one differs from the others and from the originals (so nothing is cached)."""
    from PIL import Image, ImageOps

    sources = labelled_files("fruit")
    rng = random.Random(seed)
    opened: dict[Path, Image.Image] = {}
    out = []
    for n in range(count):
        path, tag = sources[n % len(sources)]
        img = opened.get(path)
        if img is None:
            img = opened[path] = Image.open(path).convert("RGB")
        w, h = img.size
        cw, ch = int(w * rng.uniform(0.4, 0.9)), int(h * rng.uniform(0.4, 0.9))
        left, top = rng.randrange(0, w - cw + 1), rng.randrange(0, h - ch + 1)
        crop = img.crop((left, top, left + cw, top + ch))
        if rng.random() < 0.5:
            crop = ImageOps.mirror(crop)
        folder = target / tag
        folder.mkdir(parents=True, exist_ok=True)
        file = folder / f"{tag}-{seed}-{n:05d}.jpg"
        crop.save(file, "JPEG", quality=88)
        out.append((file, tag))
    return out


_DERIVED_ROOT: Path | None = None


def derived_set(count: int, seed: int) -> list[tuple[Path, str]]:
    """`derived_images` kept for the rest of this process (benchmarks share them), in one temporary folder."""
    global _DERIVED_ROOT
    import atexit

    if _DERIVED_ROOT is None:
        _DERIVED_ROOT = Path(tempfile.mkdtemp(prefix="cvbench-images-"))
        atexit.register(shutil.rmtree, _DERIVED_ROOT, True)
    target = _DERIVED_ROOT / f"derived-{count}-{seed}"
    marker = target / ".complete"
    if marker.exists():
        return [(Path(line.split("\t")[0]), line.split("\t")[1]) for line in marker.read_text().splitlines()]
    shutil.rmtree(target, ignore_errors=True)
    files = derived_images(count, seed, target)
    marker.write_text("".join(f"{f}\t{t}\n" for f, t in files))
    return files


def unique_variant(data: bytes, n: int) -> bytes:
    """The same JPEG with a distinct trailer after its end marker: decodes to the same pixels, hashes apart."""
    return data + b"cvbench" + n.to_bytes(8, "big")


def digits_images() -> tuple[list[bytes], list[int]]:
    """scikit-learn's 1,797 handwritten digits as 64x64 PNGs (dark ink on white, as `make demo` writes them)."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    out = []
    for pixels in digits.images:
        image = Image.fromarray((255 - pixels * 255 / 16).astype(np.uint8)).resize((64, 64),
                                                                                  Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        image.save(buf, "PNG")
        out.append(buf.getvalue())
    return out, [int(t) for t in digits.target]


# ---------------------------------------------------------------- results and tables
@dataclass
class Check:
    """One figure with a target: what, the value, the target in words, met or not."""

    name: str
    value: str
    target: str
    met: bool | None  # None: reported, no target

    def to_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "target": self.target, "met": self.met}


@dataclass
class Section:
    key: str
    title: str
    about: str
    checks: list[Check] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)  # (caption, header, rows)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def table(self, caption: str, header: list[str], rows: list[list[Any]]) -> None:
        self.tables.append((caption, header, [[_cell(v) for v in row] for row in rows]))

    def to_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "about": self.about,
                "checks": [c.to_dict() for c in self.checks],
                "tables": [{"caption": c, "header": h, "rows": r} for c, h, r in self.tables],
                "notes": self.notes, "seconds": round(self.seconds, 1)}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"
    return str(value)


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def met_word(met: bool | None) -> str:
    return "reported" if met is None else ("**met**" if met else "**not met**")
