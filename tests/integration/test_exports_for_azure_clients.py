"""Exports that existing code reads: Microsoft's export sample runs the ONNX export as it is and gets the
service's top tag, for Regular and for Advanced training; the DockerFile export's server answers as the
prediction API does.

The sample-style client below is written the way Azure-Samples/customvision-export-samples
(samples/python/onnx/classification/predict.py) is: the model's one input and its shape, the metadata props
honoured, `PIL.Image.open(f).resize(input_shape)`, NCHW float, the first output.

What is compared with what (to keep the suite's time in check):
- through HTTP, every fruit photo (fruit + fruit-extra, 51, with a model trained on fruit) and every grocery
  `val/` photo (296, with a model trained on 5 photos a tag of grocery `train/`): the sample's top tag against
  the prediction API's, for a Regular and an Advanced iteration of each;
- in-process, every grocery photo (train and val, 2,936): the pixels the exported graph crops out of the
  sample's input are exactly the pixels the service predicts from, and on the same pixels the export and the
  service compute the same probabilities (tests/unit/test_head_export.py).
"""
from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import onnx
import onnxruntime
import PIL.Image
import pytest

from harness.files import serve_files
from harness.rest import Rest
from harness.service import PREDICTION_RESOURCE_ID

pytestmark = [pytest.mark.datasets, pytest.mark.slow]
GENERAL_COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"
KSHOT = 5  # grocery photos a tag to train on: enough to be a real model, few enough to train in a minute


class SampleModel:
    """Azure's sample, as it is written (a model file's bytes in place of its path)."""

    def __init__(self, model_bytes: bytes):
        self.session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
        assert len(self.session.get_inputs()) == 1
        self.input_shape = self.session.get_inputs()[0].shape[2:]
        self.input_name = self.session.get_inputs()[0].name
        self.input_type = {"tensor(float)": np.float32, "tensor(float16)": np.float16}[
            self.session.get_inputs()[0].type]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.is_bgr = False
        self.is_range255 = False
        for metadata in onnx.load_from_string(model_bytes).metadata_props:
            if metadata.key == "Image.BitmapPixelFormat" and metadata.value == "Bgr8":
                self.is_bgr = True
            elif metadata.key == "Image.NominalPixelRange" and metadata.value == "NominalRange_0_255":
                self.is_range255 = True

    def input_array(self, image_file) -> np.ndarray:
        image = PIL.Image.open(image_file).resize(self.input_shape)
        input_array = np.array(image, dtype=np.float32)[np.newaxis, :, :, :]
        input_array = input_array.transpose((0, 3, 1, 2))  # => (N, C, H, W)
        if self.is_bgr:
            input_array = input_array[:, (2, 1, 0), :, :]
        if not self.is_range255:
            input_array = input_array / 255
        return input_array

    def predict(self, image_file) -> dict:
        outputs = self.session.run(self.output_names, {self.input_name: self.input_array(image_file).astype(
            self.input_type)})
        return {name: outputs[i] for i, name in enumerate(self.output_names)}


def kshot(files: list[Path], k: int, seed: int = 0) -> list[Path]:
    """k photos a tag, drawn with a fixed seed (bench/accuracy.py draws its k-shot sets the same way)."""
    rng = np.random.default_rng(seed)
    by_tag: dict[str, list[Path]] = {}
    for f in sorted(files):
        by_tag.setdefault(f.parent.name, []).append(f)
    return [by_tag[t][i] for t in sorted(by_tag) for i in sorted(rng.permutation(len(by_tag[t]))[:k])]


def _photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*/*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


class Trained:
    """A compact-domain project trained as Advanced, then as Regular; both published and exported."""

    def __init__(self, rest: Rest, name: str, files: list[Path]):
        self.rest, self.label = rest, name
        self.pid = rest.project(domain_id=GENERAL_COMPACT)
        tags = {t: rest.tag(self.pid, t) for t in sorted({f.parent.name for f in files})}
        for tag, tag_id in tags.items():
            batch = [f.read_bytes() for f in files if f.parent.name == tag]
            for start in range(0, len(batch), 64):
                r = rest.upload(self.pid, tag_id, batch[start:start + 64])
                assert r.status_code == 200, r.text
        self.iterations, self.exports = {}, {}
        # Advanced first: Regular then finds its Lite0 features (the same view) cached.
        for kind, params in (("Advanced", {"trainingType": "Advanced", "reservedBudgetInHours": 1}),
                             ("Regular", {"forceTrain": "true"})):
            iid = rest.train(self.pid, **params)
            self.iterations[kind] = iid
            r = rest.training("POST", f"/projects/{self.pid}/iterations/{iid}/publish",
                              params={"publishName": f"{name}-{kind}", "predictionId": PREDICTION_RESOURCE_ID})
            assert r.status_code == 200, r.text
            self.exports[kind] = self.download(iid, "ONNX")

    def download(self, iid: str, platform: str, flavor: str | None = None) -> zipfile.ZipFile:
        params = {"platform": platform, **({"flavor": flavor} if flavor else {})}
        r = self.rest.training("POST", f"/projects/{self.pid}/iterations/{iid}/export", params=params)
        assert r.status_code == 200, r.text
        listed = self.rest.training("GET", f"/projects/{self.pid}/iterations/{iid}/export").json()
        done = next(e for e in listed if e["platform"] == platform)
        assert done["status"] == "Done"
        return zipfile.ZipFile(io.BytesIO(self.rest.http.get(done["downloadUri"]).content))

    def served(self, kind: str, data: bytes) -> list[dict]:
        r = self.rest.prediction("POST", f"/{self.pid}/classify/iterations/{self.name(kind)}/image/nostore",
                                 content=data, headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 200, r.text
        return r.json()["predictions"]

    def name(self, kind: str) -> str:
        return f"{self.label}-{kind}"


@pytest.fixture(scope="module")
def rest(cvlocal_service):
    return Rest(cvlocal_service)


@pytest.fixture(scope="module")
def fruit(rest, datasets):
    return Trained(rest, "fruit", _photos(datasets / "fruit"))


@pytest.fixture(scope="module")
def grocery(rest, datasets):
    return Trained(rest, "grocery", kshot(_photos(datasets / "grocery-store" / "train"), KSHOT))


def _sample(trained: Trained, kind: str) -> tuple[SampleModel, list[str]]:
    z = trained.exports[kind]
    return SampleModel(z.read("model.onnx")), z.read("labels.txt").decode().splitlines()


def _disagreements(trained: Trained, kind: str, files: list[Path]) -> list[str]:
    model, labels = _sample(trained, kind)
    wrong = []
    for f in files:
        data = f.read_bytes()
        sample_top = labels[int(np.argmax(model.predict(io.BytesIO(data))[model.output_names[0]][0]))]
        service_top = trained.served(kind, data)[0]["tagName"]
        if sample_top != service_top:
            wrong.append(f"{f.parent.name}/{f.name}: sample {sample_top}, service {service_top}")
    return wrong


@pytest.mark.parametrize("kind", ["Regular", "Advanced"])
def test_the_sample_gets_the_services_top_tag_on_every_fruit_photo(fruit, datasets, kind):
    model, labels = _sample(fruit, kind)
    assert model.is_range255 and not model.is_bgr and model.input_shape == [256, 256]
    assert labels == ["apple", "banana", "orange"]
    files = _photos(datasets / "fruit") + _photos(datasets / "fruit-extra")
    assert len(files) == 51
    assert _disagreements(fruit, kind, files) == []


@pytest.mark.parametrize("kind", ["Regular", "Advanced"])
def test_the_sample_gets_the_services_top_tag_on_every_grocery_val_photo(grocery, datasets, kind):
    files = _photos(datasets / "grocery-store" / "val")
    assert len(files) == 296
    assert _disagreements(grocery, kind, files) == []


def test_the_export_sees_the_services_pixels_on_every_grocery_photo(grocery, datasets):
    """The crop the exported graph takes of the sample's 256x256 input, against the service's own pixels."""
    from cvlocal.model.preprocess import decode_for_model

    model_bytes = grocery.exports["Regular"].read("model.onnx")
    with_crop = onnx.load_from_string(model_bytes)
    del with_crop.graph.output[:]
    with_crop.graph.output.append(onnx.helper.make_tensor_value_info("cropped", onnx.TensorProto.FLOAT, None))
    crop = onnxruntime.InferenceSession(with_crop.SerializeToString(), providers=["CPUExecutionProvider"])
    sample = SampleModel(model_bytes)
    files = _photos(datasets / "grocery-store" / "train") + _photos(datasets / "grocery-store" / "val")
    assert len(files) == 2936

    def differs(f: Path) -> bool:  # decoding and resizing release the GIL: two at a time on two cores
        data = f.read_bytes()
        seen = crop.run(["cropped"], {sample.input_name: sample.input_array(io.BytesIO(data))})[0][0]
        served = decode_for_model(data, resize="squash").transpose(2, 0, 1).astype(np.float32)
        return not np.array_equal(seen, served)

    with ThreadPoolExecutor(2) as pool:
        differ = [f for f, d in zip(files, pool.map(differs, files)) if d]
    assert differ == []


def test_advanced_and_regular_report_their_type_and_time(rest, fruit):
    for kind, iid in fruit.iterations.items():
        iteration = rest.training("GET", f"/projects/{fruit.pid}/iterations/{iid}").json()
        assert iteration["trainingType"] == kind and iteration["status"] == "Completed"
        assert iteration["trainingTimeInMinutes"] >= 1  # rounded up: it trained, so it took some time
        assert iteration["exportableTo"] == ["ONNX", "DockerFile"]
    assert fruit.exports["Advanced"].read("labels.txt") == fruit.exports["Regular"].read("labels.txt")
    meta = {p.key: p.value for p in onnx.load_from_string(fruit.exports["Advanced"].read("model.onnx")).metadata_props}
    assert meta["backbone"] == "efficientnet-lite0+efficientnet-lite2" and meta["resize"] == "squash"


# ---- the DockerFile export: its server run as a process (no Docker engine here) -----------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def container(fruit, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dockerfile-export")
    package = fruit.download(fruit.iterations["Advanced"], "DockerFile", "Linux")
    package.extractall(folder)
    port = _free_port()
    process = subprocess.Popen([sys.executable, str(folder / "app" / "server.py"), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
                time.sleep(0.2)
        yield folder, base
    finally:
        process.terminate()
        process.wait(10)


def test_the_dockerfile_package_builds_what_it_serves(container):
    folder, _ = container
    dockerfile = (folder / "Dockerfile").read_text()
    assert "COPY app /app" in dockerfile and "server.py" in dockerfile and "EXPOSE 80" in dockerfile
    pins = set((folder / "requirements.txt").read_text().split())
    constraints = set(Path(__file__).resolve().parents[2].joinpath("constraints.txt").read_text().split())
    assert pins and pins <= constraints  # the versions this service is tested with
    assert {p.name for p in (folder / "app").iterdir()} >= {"server.py", "model.onnx", "labels.txt", "tags.json"}


def test_the_container_answers_as_the_prediction_api(container, fruit, datasets):
    _, base = container
    files = _photos(datasets / "fruit-extra")
    with serve_files({f"/{f.name}": f.read_bytes() for f in files}) as images:
        for f in files:
            data = f.read_bytes()
            want = {p["tagName"]: p for p in fruit.served("Advanced", data)}
            answers = [
                httpx.post(base + "/image", content=data, headers={"Content-Type": "application/octet-stream"}),
                httpx.post(base + f"/{fruit.pid}/classify/iterations/fruit-Advanced/image",
                           files={"imageData": (f.name, data, "image/jpeg")}),
                httpx.post(base + "/url", json={"Url": images.url(f"/{f.name}")}),
            ]
            for r in answers:
                assert r.status_code == 200, r.text
                got = r.json()
                assert got["project"] == fruit.pid and got["iteration"] == fruit.iterations["Advanced"]
                assert got["predictions"][0]["tagName"] == f.parent.name == next(iter(want))
                for p in got["predictions"]:
                    assert p["tagId"] == want[p["tagName"]]["tagId"] and p["boundingBox"] is None
                    assert abs(p["probability"] - want[p["tagName"]]["probability"]) < 0.02


def test_the_container_refuses_bad_input_clearly(container):
    _, base = container
    assert "Custom" in httpx.get(base + "/").text
    r = httpx.post(base + "/image", content=b"not an image")
    assert r.status_code == 400 and r.json()["code"] == "BadRequestImageFormat"
    r = httpx.post(base + "/url", json={"Url": "file:///etc/passwd"})
    assert r.status_code == 400 and r.json()["code"] == "BadRequestImageUrl"
    assert httpx.post(base + "/nothing/here", content=b"x").status_code == 404
    body = json.dumps({"Url": 3})
    assert httpx.post(base + "/url", content=body).status_code == 400
