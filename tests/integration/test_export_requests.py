"""export_iteration and get_exports as clients call them: Azure's platform and flavor names in any case,
exports built in the background (`Exporting`, then `Done`), and bad requests answered with Azure's codes, with
nothing recorded and the service serving on; a service without the exports extra says which extra it needs;
and the REST calls the peer tool jesrav/custom-vision-utils makes for its TensorFlow export, with its reading of
the frozen graph.
"""
from __future__ import annotations

import io
import os
import time
import zipfile

import numpy as np
import PIL.Image
import pytest
import requests
from azure.cognitiveservices.vision.customvision.training.models import CustomVisionErrorException

from harness.images import photo
from harness.rest import Rest
from harness.service import RunningService

from .exported_projects import GENERAL_COMPACT

pytestmark = pytest.mark.slow
REFUSED = "BadRequestExportValidationFailed"


@pytest.fixture(scope="module")
def rest(cvlocal_service):
    return Rest(cvlocal_service)


def _compact_project(rest: Rest, name_hint: str = "") -> tuple[str, str]:
    pid = rest.project(domain_id=GENERAL_COMPACT)
    for colour in ("red", "blue", "green"):
        assert rest.upload(pid, rest.tag(pid, colour), [photo(colour, 60 + i) for i in range(5)]).status_code == 200
    return pid, rest.train(pid, timeout=600)


@pytest.fixture(scope="module")
def trained(rest):
    return _compact_project(rest)


def _export(rest, pid, iid, platform, flavor=None):
    params = {"platform": platform, **({"flavor": flavor} if flavor is not None else {})}
    return rest.training("POST", f"/projects/{pid}/iterations/{iid}/export", params=params)


def _listed(rest, pid, iid) -> list[dict]:
    r = rest.training("GET", f"/projects/{pid}/iterations/{iid}/export")
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("platform,flavor,says", [
    ("TensorFlowLite", None, "'TensorFlowLite' is not an export platform"),
    ("", None, "is not an export platform"),
    ("onnx", "ONNX12", "Export to ONNX (ONNX12) is not supported by this service; ONNX takes flavor OnnxFloat16"),
    ("ONNX", "TensorFlowLite", "'TensorFlowLite' is a flavor of TensorFlow"),
    ("tensorflow", "Float16", "'Float16' is not a flavor of TensorFlow"),
    ("DockerFile", "windows", "Export to DockerFile (Windows) is not supported by this service"),
    ("vaidk", None, "Export to VAIDK is not supported by this service"),
    ("CoreML", "CoreMLFloat16", "Export to CoreML (CoreMLFloat16) is not supported"),
])
def test_a_platform_or_flavor_azure_or_this_service_does_not_have_is_refused_and_nothing_is_recorded(
        rest, trained, platform, flavor, says):
    pid, iid = trained
    r = _export(rest, pid, iid, platform, flavor)
    assert r.status_code == 400 and r.json()["code"] == REFUSED, r.text
    assert says in r.json()["message"], r.json()["message"]
    assert not [e for e in _listed(rest, pid, iid) if e["status"] == "Exporting"]
    assert rest.training("GET", "/domains").status_code == 200  # the service serves on


def test_names_in_any_case_are_answered_in_azures_spelling_and_built_in_the_background(rest, trained):
    pid, iid = trained
    r = _export(rest, pid, iid, "tensorflow", "tensorflowlite")
    assert r.status_code == 200, r.text
    started = r.json()
    assert (started["platform"], started["flavor"], started["status"]) == ("TensorFlow", "TensorFlowLite",
                                                                          "Exporting")
    assert started["downloadUri"] is None  # no link before the package exists
    again = _export(rest, pid, iid, "TensorFlow", "TensorFlowLite")  # the same platform and flavor, still running
    assert again.status_code == 400 and again.json()["code"] == "BadRequestExportAlreadyInProgress", again.text
    other = _export(rest, pid, iid, "ONNX", "onnxfloat16")  # another flavor may run beside it
    assert other.status_code == 200 and other.json()["flavor"] == "OnnxFloat16", other.text
    for flavor in ("TensorFlowLite",):
        done = rest.finished_export(pid, iid, "TensorFlow", flavor, timeout=600)
        assert done["status"] == "Done" and done["downloadUri"]
        package = zipfile.ZipFile(io.BytesIO(rest.http.get(done["downloadUri"]).content))
        assert "model.tflite" in package.namelist()
    assert rest.finished_export(pid, iid, "ONNX", "OnnxFloat16")["status"] == "Done"
    # exporting again replaces the export (and voids its link)
    link = rest.finished_export(pid, iid, "ONNX", "OnnxFloat16")["downloadUri"]
    assert rest.export(pid, iid, "ONNX", "OnnxFloat16")["downloadUri"] != link
    assert rest.http.get(link).status_code == 404
    assert len([e for e in _listed(rest, pid, iid) if e["flavor"] == "OnnxFloat16"]) == 1


def test_an_export_of_an_iteration_deleted_meanwhile_is_dropped_and_the_service_serves_on(rest):
    pid, iid = _compact_project(rest)
    assert _export(rest, pid, iid, "TensorFlow", "TensorFlowSavedModel").status_code == 200
    assert rest.training("DELETE", f"/projects/{pid}/iterations/{iid}").status_code == 204
    r = rest.training("GET", f"/projects/{pid}/iterations/{iid}/export")
    assert r.status_code == 404 and r.json()["code"] == "NotFoundIteration"
    # the worker drops it and goes on with the next export
    survivor = rest.train(pid, forceTrain="true", timeout=600)
    assert rest.export(pid, survivor, "ONNX")["status"] == "Done"


def test_an_iteration_on_a_domain_that_does_not_export_is_refused(rest):
    pid, _, iid = rest.trained_project()  # General: not compact
    r = _export(rest, pid, iid, "TensorFlow")
    assert r.status_code == 400 and r.json()["code"] == REFUSED and "compact domain" in r.json()["message"]


# ---- a service without the exports extra --------------------------------------------------------------------------

HIDE_EXTRA = """import sys
for name in ("tensorflow", "openvino", "coremltools"):  # as if `pip install '.[exports]'` never ran
    sys.modules[name] = None
"""


def test_a_service_without_the_exports_extra_offers_onnx_and_dockerfile_and_names_the_extra(tmp_path):
    (tmp_path / "hide").mkdir()
    (tmp_path / "hide" / "sitecustomize.py").write_text(HIDE_EXTRA)
    path = os.pathsep.join(p for p in (str(tmp_path / "hide"), os.environ.get("PYTHONPATH")) if p)
    with RunningService(tmp_path / "data", env={"PYTHONPATH": path}) as service:
        rest = Rest(service)
        compact = next(d for d in rest.training("GET", "/domains").json() if d["id"] == GENERAL_COMPACT)
        assert compact["exportablePlatforms"] == ["ONNX", "DockerFile"]
        pid, iid = _compact_project(rest)
        iteration = rest.training("GET", f"/projects/{pid}/iterations/{iid}").json()
        assert iteration["exportableTo"] == ["ONNX", "DockerFile"]
        r = _export(rest, pid, iid, "TensorFlow")
        assert r.status_code == 400 and r.json()["code"] == REFUSED
        assert "pip install 'cvops[exports]'" in r.json()["message"]
        assert rest.export(pid, iid, "DockerFile", "ARM")["status"] == "Done"


# ---- the peer tool's TensorFlow export --------------------------------------------------------------------------------

def test_the_rest_calls_of_custom_vision_utils_export_model(trainer, rest, tmp_path):
    """jesrav/custom-vision-utils, `cvis export-model PROJECT OUTPATH`: custom_vision_utils/sdk_helpers/
    helpers.py `download_model_iteration_as_tensorflow` and classification/model.py `ImageClassifierModel`,
    made here through the same SDK calls in the same order. One difference: the tool sleeps 5 s after
    export_iteration and takes `get_exports(...)[0].download_uri` blind; this waits until that export is Done
    (a frozen-graph export takes about 3 s once the export worker has TensorFlow loaded, more the first time)."""
    pid, _ = _compact_project(rest)
    project_name = trainer.get_project(pid).name
    # get_project_id: the project by name among get_projects
    project_id = [p.id for p in trainer.get_projects() if p.name == project_name][0]
    # get_latest_iteration
    iteration_id = sorted(trainer.get_iterations(project_id), key=lambda x: x.created, reverse=True)[0].id
    try:
        trainer.export_iteration(project_id=project_id, iteration_id=iteration_id, platform="TensorFlow",
                                 flavor="TensorFlowNormal")
    except CustomVisionErrorException:  # "Model already queued for exporting."
        pass
    deadline = time.monotonic() + 600
    while trainer.get_exports(project_id=project_id, iteration_id=iteration_id)[0].status == "Exporting":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    uri = trainer.get_exports(project_id=project_id, iteration_id=iteration_id)[0].download_uri
    r = requests.get(uri, allow_redirects=True)
    with zipfile.ZipFile(io.BytesIO(r.content), "r") as zip_ref:
        zip_ref.extractall(str(tmp_path))

    tf = pytest.importorskip("tensorflow")
    # ImageClassifierModel.__init__: model.pb, "Placeholder:0" and its size, "loss:0", labels.txt
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString((tmp_path / "model.pb").read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        input_shape = sess.graph.get_tensor_by_name("Placeholder:0").shape.as_list()[1]
        labels = [line.strip() for line in (tmp_path / "labels.txt").read_text().splitlines()]
        assert input_shape == 256 and sorted(labels) == ["blue", "green", "red"]
        for colour in ("red", "blue", "green"):
            data = photo(colour, 99)
            # its preprocessing: RGB -> BGR, the image resized to 256x256, the centre input_shape cropped (all of it)
            rgb = np.asarray(PIL.Image.open(io.BytesIO(data)).convert("RGB").resize((256, 256), PIL.Image.BILINEAR))
            bgr = rgb[:, :, ::-1].astype(np.float32)[np.newaxis]
            scores = sess.run(sess.graph.get_tensor_by_name("loss:0"), {"Placeholder:0": bgr})[0]
            assert labels[int(np.argmax(scores))] == colour
