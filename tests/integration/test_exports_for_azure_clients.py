"""Exports that existing code reads: Microsoft's export sample runs the ONNX export as it is and gets the
service's top tag, for Regular and for Advanced training; the DockerFile export's server answers as the
prediction API does.

The sample-style client below is written the way Azure-Samples/customvision-export-samples
(samples/python/onnx/classification/predict.py) is: the model's one input and its shape, the metadata props
honoured, `PIL.Image.open(f).resize(input_shape)`, NCHW float, the first output.

What is compared with what (to keep the suite's time in check):
- through HTTP, every fruit photo (fruit + fruit-extra, 51, with a model trained on fruit) and every grocery
  `val/` photo (296, with a model trained on 5 photos a tag of grocery `train/`): the sample's top tag against
  the prediction API's, for a Regular and an Advanced iteration of each; on the same photos, the TensorFlow
  export's frozen graph in TensorFlow's runtime (the service's top tag, each probability within 0.02; the other
  platforms are test_export_runtimes.py's);
- in-process, every kind of grocery photo (train and val, 2,936 photos of three kinds: JPEG, RGB, 348x348,
  348x464 or 464x348, no EXIF orientation): every photo of a kind when it has at most 200, else 200 spread
  over it, 343 in all: the pixels the exported graph crops out of the sample's input are exactly the pixels
  the service predicts from, and on the same pixels the export and the service compute the same probabilities
  (tests/unit/test_head_export.py).

The projects are exported_projects.py's, trained once per worker (test_export_runtimes.py, a unit of work of its
own, trains them again where it runs on another worker, from the run's feature folder).
"""
from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import onnx
import PIL.Image
import pytest

from cvlocal.training.platforms import available_exports
from harness.files import serve_files
from harness import onnx_session

from .export_samples import SampleModel, TensorFlowFrozenGraph, dockerfile_server
from .exported_projects import (KINDS, Trained, check_agrees, fruit_photos, grocery_val_photos, labels_of, needs,
                                photos)

pytestmark = [pytest.mark.datasets, pytest.mark.slow, pytest.mark.xdist_group("exports")]
PER_KIND = 200  # photos of each kind of grocery photo the pixel test compares (a kind: format, mode, size, EXIF)


def _sample(trained: Trained, kind: str) -> tuple[SampleModel, list[str]]:
    z = trained.package(kind, "ONNX")
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
    files = fruit_photos(datasets)
    assert len(files) == 51
    assert _disagreements(fruit, kind, files) == []


@pytest.mark.parametrize("kind", ["Regular", "Advanced"])
def test_the_sample_gets_the_services_top_tag_on_every_grocery_val_photo(grocery, datasets, kind):
    files = grocery_val_photos(datasets)
    assert len(files) == 296
    assert _disagreements(grocery, kind, files) == []


# ---- TensorFlow's frozen graph, in TensorFlow's runtime, on the same photos ---------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_the_frozen_graph_gets_the_services_answer_on_every_fruit_and_grocery_photo(fruit, grocery, datasets,
                                                                                   kind):
    needs("tensorflow")
    for trained, files in ((fruit, fruit_photos(datasets)), (grocery, grocery_val_photos(datasets))):
        package = trained.package(kind, "TensorFlow")
        sample = TensorFlowFrozenGraph(package.read("model.pb"))
        assert sample.input_name == "Placeholder" and sample.output_names == ["loss"]
        assert sample.input_shape == [256, 256]
        check_agrees(trained, kind, labels_of(package), files, sample.predict(files))
    assert len(fruit_photos(datasets)) == 51 and len(grocery_val_photos(datasets)) == 296


def _of_every_kind(files: list[Path], most: int) -> list[Path]:
    """Every photo of each kind (format, mode, size, EXIF orientation) when the kind has at most `most`, else
    `most` spread evenly over it: what decides the pixels is the kind, so every kind is compared, the common
    one on fewer photos."""
    kinds: dict[tuple, list[Path]] = {}
    for f in files:
        with PIL.Image.open(f) as image:  # the header only
            kinds.setdefault((image.format, image.mode, image.size, image.getexif().get(0x0112)), []).append(f)
    return [f for group in kinds.values() for f in group[::max(1, -(-len(group) // most))]]


def test_the_export_sees_the_services_pixels_on_every_kind_of_grocery_photo(grocery, datasets):
    """The crop the exported graph takes of the sample's 256x256 input, against the service's own pixels."""
    from cvlocal.model.preprocess import decode_for_model

    model_bytes = grocery.package("Regular", "ONNX").read("model.onnx")
    with_crop = onnx.load_from_string(model_bytes)
    del with_crop.graph.output[:]
    with_crop.graph.output.append(onnx.helper.make_tensor_value_info("cropped", onnx.TensorProto.FLOAT, None))
    crop = onnx_session.session(with_crop.SerializeToString())
    sample = SampleModel(model_bytes)
    every_photo = photos(datasets / "grocery-store" / "train") + grocery_val_photos(datasets)
    assert len(every_photo) == 2936
    files = _of_every_kind(every_photo, PER_KIND)
    assert len(files) >= 3 * 17  # three kinds, the rarest with 17 photos

    def differs(f: Path) -> bool:  # decoding and resizing release the GIL: two at a time on two cores
        data = f.read_bytes()
        seen = crop.run(["cropped"], {sample.input_name: sample.input_array(io.BytesIO(data))})[0][0]
        served = decode_for_model(data, resize="squash").transpose(2, 0, 1).astype(np.float32)
        return not np.array_equal(seen, served)

    with ThreadPoolExecutor(2) as pool:
        differ = [f for f, d in zip(files, pool.map(differs, files)) if d]
    assert differ == []


def test_advanced_and_regular_report_their_type_and_time(export_rest, fruit):
    for kind, iid in fruit.iterations.items():
        iteration = export_rest.training("GET", f"/projects/{fruit.pid}/iterations/{iid}").json()
        assert iteration["trainingType"] == kind and iteration["status"] == "Completed"
        assert iteration["trainingTimeInMinutes"] >= 1  # rounded up: it trained, so it took some time
        assert iteration["exportableTo"] == list(available_exports())
    advanced, regular = fruit.package("Advanced", "ONNX"), fruit.package("Regular", "ONNX")
    assert advanced.read("labels.txt") == regular.read("labels.txt")
    meta = {p.key: p.value for p in onnx.load_from_string(advanced.read("model.onnx")).metadata_props}
    assert meta["backbone"] == "efficientnet-lite0+efficientnet-lite2" and meta["resize"] == "squash"


# ---- the DockerFile export: its server run as a process (no Docker engine here) -----------------------------

@pytest.fixture(scope="module")
def container(fruit, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dockerfile-export")
    fruit.package("Advanced", "DockerFile", "Linux").extractall(folder)
    with dockerfile_server(folder) as base:
        yield folder, base


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
    files = photos(datasets / "fruit-extra")
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
