"""TensorFlow.js in Node.js, with Microsoft's own Custom Vision library, to run TensorFlow.js exports as their
clients do (tests/integration/test_export_runtimes.py).

Installed on first use into `.engines/tfjs/` (or $CVOPS_ENGINES) from npm at pinned versions:
`@microsoft/customvision-tfjs` 1.3.0 (what Microsoft's TensorFlow.js samples load) on `@tensorflow/tfjs` 3.21.0,
its pure-JavaScript TensorFlow.js, with the WebAssembly backend of the same release for speed. Not
`@tensorflow/tfjs-node` (which `@microsoft/customvision-tfjs-node` uses): its install downloads a native
libtensorflow from storage.googleapis.com, which an offline machine cannot; the library and the graph model are
the same, only the kernels differ. The runner (tfjs_classify.js) hands the library each photo's decoded pixels,
as a browser hands it an <img>: the library itself crops, resizes, orders the channels and runs the model.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from harness.engines import EngineMissing

PACKAGES = ("@microsoft/customvision-tfjs@1.3.0", "@tensorflow/tfjs@3.21.0", "@tensorflow/tfjs-backend-wasm@3.21.0")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUNNER = Path(__file__).resolve().parent / "tfjs_classify.js"


def install_folder() -> Path:
    return Path(os.environ.get("CVOPS_ENGINES") or PROJECT_ROOT / ".engines") / "tfjs"


def ensure_installed() -> Path:
    """The node_modules folder holding the pinned packages, installing them with npm when missing."""
    folder = install_folder()
    marker = folder / "node_modules" / "@microsoft" / "customvision-tfjs" / "package.json"
    if marker.exists() and (folder / "installed.json").exists() \
            and json.loads((folder / "installed.json").read_text()) == list(PACKAGES):
        return folder / "node_modules"
    if not shutil.which("node") or not shutil.which("npm"):
        raise EngineMissing("TensorFlow.js needs Node.js 20+ and npm (Debian: apt-get install nodejs npm)")
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(folder), *PACKAGES],
                          capture_output=True, text=True)
    if done.returncode != 0 or not marker.exists():
        raise EngineMissing(f"npm could not install {' '.join(PACKAGES)}: "
                            f"{(done.stderr or done.stdout).strip()[-300:]}")
    (folder / "installed.json").write_text(json.dumps(list(PACKAGES)))
    return folder / "node_modules"


def classify(model_folder: Path, images: list[np.ndarray], timeout: float = 600) -> list[list[float]]:
    """The library's answer (the model's output, one row a photo) for each [H, W, 3] uint8 RGB photo."""
    node_modules = ensure_installed()
    with tempfile.TemporaryDirectory(prefix="cvops-tfjs-") as folder:
        paths = []
        for n, rgb in enumerate(images):
            rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
            path = Path(folder) / f"{n}.rgba"
            path.write_bytes(np.array(rgba.shape[:2], "<i4").tobytes() + np.ascontiguousarray(rgba).tobytes())
            paths.append(str(path))
        done = subprocess.run(["node", str(RUNNER), str(model_folder), *paths], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, "NODE_PATH": str(node_modules)})
    if done.returncode != 0:
        raise RuntimeError(f"the TensorFlow.js runner failed: {done.stderr.strip()[-2000:]}")
    return [row[0] for row in json.loads(done.stdout)]
