"""Every export platform, run in its own runtime and fed exactly as Microsoft's sample for that platform feeds
it (tests/integration/export_samples.py; TensorFlow.js through Microsoft's own library, harness/tfjs.py), gives
the prediction API's answer: the same top tag on every photo compared, each tag's probability within 0.02
(0.03 for float16), for Regular and Advanced iterations.

What is compared on what:
- TensorFlow frozen graph (TensorFlow's runtime): every fruit photo (51) on the fruit iterations and every
  grocery `val/` photo (296) on the grocery iterations (5 photos a tag of `train/`), in
  test_exports_for_azure_clients.py, beside the ONNX sample on the same photos (the service is asked once);
- SavedModel, TensorFlow Lite, OpenVINO, ONNX float16 and TensorFlow.js: subsets stratified by tag, the grocery
  Regular iteration on one grocery `val/` photo of each tag (60) and the fruit Advanced iteration on every 4th
  fruit photo of each tag (15; the TensorFlow.js library is pure JavaScript here: every 15th and every 6th
  photo), so each platform is proven on both training types and both photo sets with one export of each;
- CoreML (no runtime on Linux): the spec as coremltools reads it (image input, class labels, outputs) and the
  model's layers computed in NumPy from the spec (tests/integration/coreml_numpy.py) on two photos each.
Each photo goes to the project whose photos it is like: a model asked about photos of things it was never
shown spreads its probabilities over look-alike tags, where the service's reduced-scale JPEG decoding of large
photos (model/preprocess.py) moves them more than on the photos it knows.
The projects (exported_projects.py) are trained once per worker; this module is a unit of work of its own (the
`export-runtimes` group), so it runs beside the every-photo comparisons of test_exports_for_azure_clients.py
instead of after them, and its service finds their photos' features in the run's feature folder.
"""
from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from harness.engines import EngineMissing, skip_or_fail

from .export_samples import OpenVino, SampleModel, TensorFlowLite, TensorFlowSavedModel
from .exported_projects import Trained, agreement, check_agrees, every, fruit_photos, grocery_val_photos, labels_of, needs

pytestmark = [pytest.mark.datasets, pytest.mark.slow, pytest.mark.xdist_group("export-runtimes")]
FLOAT16_TOLERANCE = 0.03


# (training type, project, its photos, every n-th of each tag, every n-th photo for TensorFlow.js)
CASES = {"grocery-Regular": ("Regular", "grocery", grocery_val_photos, 8, 15),
         "fruit-Advanced": ("Advanced", "fruit", fruit_photos, 4, 6)}


@pytest.fixture(scope="module", params=list(CASES))
def case(request, datasets, fruit, grocery) -> tuple[str, Trained, list[Path], list[Path]]:
    """(training type, the trained project, a subset of its photos, a smaller one for TensorFlow.js)."""
    kind, project, files, n, n_js = CASES[request.param]
    photos = files(datasets)
    return kind, {"fruit": fruit, "grocery": grocery}[project], every(photos, n), photos[::n_js]


def _unzipped(package, folder: Path) -> Path:
    package.extractall(folder)
    return folder


# ---- the other TensorFlow flavors, OpenVINO and ONNX float16 on the subset ---------------------------------------

def test_the_saved_model_gets_the_services_answer(case, tmp_path):
    needs("tensorflow")
    kind, trained, subset, _ = case
    package = trained.package(kind, "TensorFlow", "TensorFlowSavedModel")
    sample = TensorFlowSavedModel(_unzipped(package, tmp_path))
    assert list(sample.input_shape) == [256, 256]
    check_agrees(trained, kind, labels_of(package), subset, sample.predict(subset))


def test_tensorflow_lite_gets_the_services_answer(case, tmp_path):
    needs("tensorflow")
    kind, trained, subset, _ = case
    package = trained.package(kind, "TensorFlow", "TensorFlowLite")
    sample = TensorFlowLite(_unzipped(package, tmp_path) / "model.tflite")
    assert list(sample.input_shape) == [256, 256] and sample.input_details[0]["dtype"] == np.float32
    check_agrees(trained, kind, labels_of(package), subset, sample.predict(subset))


def test_openvino_gets_the_services_answer(case, tmp_path):
    needs("openvino")
    kind, trained, subset, _ = case
    package = trained.package(kind, "OpenVino")
    folder = _unzipped(package, tmp_path)
    sample = OpenVino(folder / "model.xml", folder / "model.bin")
    assert sample.input_name == "data" and sample.input_shape == [256, 256]
    check_agrees(trained, kind, labels_of(package), subset, sample.predict(subset))


def test_onnx_float16_gets_the_services_answer(case):
    kind, trained, subset, _ = case
    package = trained.package(kind, "ONNX", "OnnxFloat16")
    sample = SampleModel(package.read("model.onnx"))
    assert sample.input_type == np.float16 and sample.is_range255 and not sample.is_bgr
    got = np.concatenate([sample.predict(f)[sample.output_names[0]] for f in subset]).astype(np.float32)
    check_agrees(trained, kind, labels_of(package), subset, got, FLOAT16_TOLERANCE)
    assert len(package.read("model.onnx")) < 0.55 * len(trained.package(kind, "ONNX").read("model.onnx"))


# ---- TensorFlow.js, with Microsoft's library in Node.js ------------------------------------------------------------

def test_tensorflow_js_through_microsofts_library_computes_the_services_model(case, tmp_path):
    """Microsoft's library crops the centre square and resizes it bilinearly (tf.image.cropAndResize, no
    antialiasing) where the service resizes the whole photo bicubic: the pixels differ, so the answers are
    close, not equal. What is held: on the pixels the library prepares, the TensorFlow.js model computes the
    service's model (its ONNX export) to 1e-3, which also holds the channel order the library feeds (BGR); on
    the fruit iteration, whose answers those pixels do not move, the service's top tag and probabilities
    within 0.02. The grocery figures (a 5-shot model, unsure on many val/ photos) are printed."""
    from harness import tfjs

    try:
        tfjs.ensure_installed()
    except EngineMissing as exc:
        skip_or_fail(exc)
    tf = needs("tensorflow")
    kind, trained, _, files = case
    package = trained.package(kind, "TensorFlow", "TensorFlowJs")
    pixels = [np.asarray(PIL.Image.open(f).convert("RGB")) for f in files]  # what a browser decodes
    got = np.array(tfjs.classify(_unzipped(package, tmp_path), pixels))
    model = SampleModel(trained.package(kind, "ONNX").read("model.onnx")).session
    for rgb, row in zip(pixels, got):  # the library's own steps (customvision-tfjs src/index.js), in TensorFlow
        h, w = rgb.shape[:2]
        side, top, left = min(h, w), (h - min(h, w)) / 2, (w - min(h, w)) / 2
        box = [[top / h, left / w, (top + side) / h, (left + side) / w]]
        seen = tf.image.crop_and_resize(rgb[None].astype(np.float32), box, [0], [256, 256]).numpy()
        expected = model.run(None, {"data": seen.transpose(0, 3, 1, 2)})[0][0]
        np.testing.assert_allclose(row, expected, atol=1e-3)
    if trained.label == "fruit":
        check_agrees(trained, kind, labels_of(package), files, got)
    else:
        wrong, worst, close = agreement(trained, kind, labels_of(package), files, got)
        print(f"{trained.label} {kind}: {len(files)} photos, {len(wrong) + close} top tags differ, largest "
              f"probability difference {worst:.4f} (the library's crop and bilinear resize)")


# ---- CoreML: the spec, and its layers in NumPy ----------------------------------------------------------------------

def test_the_coreml_model_is_an_image_classifier_that_computes_the_services_answer(case):
    ct = needs("coremltools")
    from . import coreml_numpy

    kind, trained, subset, _ = case
    package = trained.package(kind, "CoreML")
    labels = labels_of(package)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.mlmodel"
        path.write_bytes(package.read("model.mlmodel"))
        spec = ct.utils.load_spec(str(path))
    # What the sample reads (samples/python/coreml/classification/predict.py): one input, an image, its size.
    assert len(spec.description.input) == 1
    image = spec.description.input[0]
    assert image.name == "data" and image.type.WhichOneof("Type") == "imageType"
    assert (image.type.imageType.width, image.type.imageType.height) == (256, 256)
    assert image.type.imageType.ColorSpace.Name(image.type.imageType.colorSpace) == "RGB"
    assert spec.WhichOneof("Type") == "neuralNetworkClassifier"
    assert list(spec.neuralNetworkClassifier.stringClassLabels.vector) == labels
    assert {o.name for o in spec.description.output} == {"classLabel", "loss"}
    assert (spec.description.predictedFeatureName, spec.description.predictedProbabilitiesName) == \
        ("classLabel", "loss")
    files = subset[::max(1, len(subset) // 2)][:2]  # a few seconds a photo in NumPy
    got = []
    for f in files:  # the sample hands Core ML a PIL image resized to the input's size; Core ML reads its RGB
        resized = PIL.Image.open(f).resize((image.type.imageType.width, image.type.imageType.height))
        got.append(coreml_numpy.run(spec, np.asarray(resized.convert("RGB")))["loss"].reshape(-1))
    check_agrees(trained, kind, labels, files, np.array(got))


# ---- the packages ----------------------------------------------------------------------------------------------------

LAYOUTS = {
    ("ONNX", None): {"model.onnx"},
    ("ONNX", "OnnxFloat16"): {"model.onnx"},
    ("TensorFlow", None): {"model.pb", "metadata_properties.json"},
    ("TensorFlow", "TensorFlowSavedModel"): {"saved_model.pb", "variables/variables.index",
                                             "variables/variables.data-00000-of-00001", "metadata_properties.json"},
    ("TensorFlow", "TensorFlowLite"): {"model.tflite", "metadata_properties.json"},
    ("TensorFlow", "TensorFlowJs"): {"model.json", "metadata_properties.json"},
    ("OpenVino", None): {"model.xml", "model.bin", "metadata_properties.json"},
    ("CoreML", None): {"model.mlmodel", "metadata_properties.json"},
}


@pytest.mark.parametrize("platform,flavor", list(LAYOUTS), ids=lambda v: str(v))
def test_each_package_is_laid_out_as_azures(grocery, platform, flavor):
    if platform != "ONNX":
        needs({"TensorFlow": "tensorflow", "OpenVino": "openvino", "CoreML": "coremltools"}[platform])
    package = grocery.package("Regular", platform, flavor)
    names = set(package.namelist())
    assert LAYOUTS[(platform, flavor)] | {"labels.txt", "cvexport.manifest", "README.txt"} <= names
    for name in names:  # nothing an unzip could write outside its folder
        assert not name.startswith("/") and ".." not in name.split("/") and "\\" not in name, name
    manifest = json.loads(package.read("cvexport.manifest"))
    assert manifest["Platform"] == platform and manifest["Flavor"] == (flavor or "")
    assert manifest["DomainType"] == "Classification" and manifest["IterationId"] == grocery.iterations["Regular"]
    assert manifest["ModelFileName"] in names and manifest["LabelFileName"] == "labels.txt"
    labels = labels_of(package)
    assert len(labels) == 81 and labels == sorted(labels)
    if "metadata_properties.json" in names:
        meta = json.loads(package.read("metadata_properties.json"))
        bgr = platform == "TensorFlow"  # every TensorFlow client but the S1 domain's feeds BGR
        assert meta["Image.BitmapPixelFormat"] == ("Bgr8" if bgr else "Rgb8")
        assert meta["Image.NominalPixelRange"] == ("Normalized_0_1" if platform == "OpenVino" else
                                                   "NominalRange_0_255")
        assert meta["CustomVision.Preprocess.TargetWidth"] == "256"
    if flavor == "TensorFlowJs":
        model = json.loads(package.read("model.json"))
        assert model["format"] == "graph-model"
        assert set(model["weightsManifest"][0]["paths"]) <= names
        assert "Rgb8" not in json.dumps(model.get("userDefinedMetadata", {}))  # both libraries then feed BGR


def test_the_arm_dockerfile_package_is_the_linux_one_for_64_bit_arm(fruit):
    linux = fruit.package("Regular", "DockerFile", "Linux")
    arm = fruit.package("Regular", "DockerFile", "ARM")
    assert set(arm.namelist()) == set(linux.namelist())
    differs = {n for n in arm.namelist() if arm.read(n) != linux.read(n)}
    assert differs == {"Dockerfile", "README.txt"}
    assert arm.read("Dockerfile").decode().splitlines()[0] == "FROM --platform=linux/arm64 python:3.11-slim"
    assert linux.read("Dockerfile").decode().splitlines()[0] == "FROM python:3.11-slim"
    assert arm.read("requirements.txt") == linux.read("requirements.txt")
    assert io.BytesIO(arm.read("app/model.onnx")).getbuffer().nbytes > 1_000_000
