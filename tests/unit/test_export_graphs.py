"""The export writers on heads of every shape a stored iteration can have, against the ONNX graph the service's
export is (ONNX Runtime): Regular, Advanced, multilabel (sigmoid), a head averaging the image and its mirror
image, and the oldest heads (224 px, short-side crop). Each platform's translation computes what the graph
computes on the same pixels, taken as that platform's clients lay them out; the packages hold only safe names.
(Real photos and each platform's own runtime: tests/integration/test_export_runtimes.py.)"""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from cvlocal.exports.conventions import convention
from cvlocal.exports.graph import classification_graph
from cvlocal.exports.onnx_reading import UnsupportedGraph
from cvlocal.exports.onnx_variants import float16
from cvlocal.exports.packages import ExportJob, build, safe_member_name
from cvlocal.model.backbone import CNN_DIM, FEATURE_DIM, LITE0
from cvlocal.model.head import Head, HeadInput
from cvlocal.model.training_types import ADVANCED, REGULAR
from harness.engines import EngineMissing, skip_or_fail
from harness import onnx_session

LABELS = ["a", "b", "c"]
S1 = "a1db07ca-a19a-4830-bae8-e004a42dc863"
GENERAL_COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"


def _head(kind: str, rng) -> Head:
    if kind == "legacy":  # saved before heads recorded their input: Lite0's 2,048 values, short-side crop
        return Head(rng.normal(0, 0.02, (FEATURE_DIM, 3)).astype(np.float32), np.zeros(3, np.float32), False)
    t = {"Regular": REGULAR, "Advanced": ADVANCED, "multilabel": REGULAR, "flip": REGULAR}[kind]
    inputs = (HeadInput(LITE0.name, CNN_DIM),) if kind != "Advanced" else t.inputs
    width = sum(i.width for i in inputs)
    return Head(rng.normal(0, 0.02, (width, 3)).astype(np.float32), rng.normal(0, 0.1, 3).astype(np.float32),
                multilabel=kind == "multilabel", inputs=inputs, test_time_flip=kind == "flip",
                transform=t.transform, resize=t.resize)


HEADS = ("Regular", "Advanced", "multilabel", "flip", "legacy")


@pytest.fixture(scope="module")
def graphs():
    rng = np.random.default_rng(7)
    return {kind: classification_graph(_head(kind, rng), LABELS) for kind in HEADS}


def _reference(graph, nchw: np.ndarray) -> np.ndarray:
    session = onnx_session.session(graph.model.SerializeToString())
    return session.run(None, {graph.input_name: nchw})[0]


def _pixels(graph, n=2, seed=3) -> np.ndarray:
    """[n, 3, S, S] RGB 0..255: the graph's own input."""
    side = graph.input_size
    return np.random.default_rng(seed).integers(0, 256, (n, 3, side, side)).astype(np.float32)


def _needs(module: str):
    try:
        return __import__(module)
    except ImportError:
        skip_or_fail(EngineMissing(f"{module} is missing: pip install -c constraints.txt -e '.[exports]'"))


@pytest.mark.slow
@pytest.mark.parametrize("kind,domain", [(kind, GENERAL_COMPACT) for kind in HEADS] + [("Regular", S1)],
                         ids=[*HEADS, "Regular-S1-RGB"])
def test_the_frozen_graph_computes_the_onnx_graphs_answer(graphs, kind, domain):
    tf = _needs("tensorflow")
    from cvlocal.exports.tensorflow import frozen_graph

    graph = graphs[kind]
    conv = convention("TensorFlow", None, domain)
    graph_def = frozen_graph(graph, conv)
    leaves = {n.name for n in graph_def.node} - {i.split(":")[0].lstrip("^") for n in graph_def.node for i in n.input}
    assert leaves == {"loss"}  # the one node nothing reads: how Microsoft's sample finds the output
    nchw = _pixels(graph)
    nhwc = nchw.transpose(0, 2, 3, 1)
    fed = nhwc[..., ::-1] if conv.channels == "BGR" else nhwc  # what the sample for this domain feeds
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=g) as session:
        got = session.run("loss:0", {"Placeholder:0": np.ascontiguousarray(fed)})
    np.testing.assert_allclose(got, _reference(graph, nchw), atol=2e-5)


@pytest.mark.parametrize("kind", ["Regular", "flip"])
def test_openvino_takes_values_0_to_1_and_computes_the_onnx_graphs_answer(graphs, kind):
    _needs("openvino")
    from cvlocal.exports.openvino import import_openvino, openvino_ir

    graph = graphs[kind]
    files = openvino_ir(graph, convention("OpenVino", None, GENERAL_COMPACT))
    ov = import_openvino()
    core = ov.Core()
    model = core.read_model(model=files["model.xml"].decode(), weights=ov.Tensor(np.frombuffer(files["model.bin"],
                                                                                             np.uint8)))
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})  # bfloat16 on AMX CPUs else
    nchw = _pixels(graph, n=1)
    got = compiled(nchw / 255)[compiled.output(0)]
    np.testing.assert_allclose(got, _reference(graph, nchw), atol=2e-5)


@pytest.mark.parametrize("kind", ["Regular", "multilabel"])
def test_float16_takes_and_answers_float16_within_a_thousandth(graphs, kind):
    graph = graphs[kind]
    model = float16(graph)
    session = onnx_session.session(model.SerializeToString())
    assert session.get_inputs()[0].type == session.get_outputs()[0].type == "tensor(float16)"
    nchw = _pixels(graph)
    got = session.run(None, {graph.input_name: nchw.astype(np.float16)})[0]
    np.testing.assert_allclose(got.astype(np.float32), _reference(graph, nchw), atol=3e-3)
    assert {p.key for p in model.metadata_props} >= {"Image.BitmapPixelFormat", "Image.NominalPixelRange"}


def test_a_graph_with_an_op_no_translation_knows_is_refused_by_name(graphs):
    import onnx

    from cvlocal.exports.tensorflow_graph import plan  # NumPy only: no TensorFlow needed to plan

    model = onnx.ModelProto()
    model.CopyFrom(graphs["Regular"].model)
    model.graph.node[-1].op_type = "LogSoftmax"
    with pytest.raises(UnsupportedGraph, match="LogSoftmax"):
        plan(model)


@pytest.mark.parametrize("platform,flavor", [("ONNX", None), ("ONNX", "OnnxFloat16"), ("DockerFile", "ARM")])
def test_a_package_holds_the_model_labels_and_manifest_under_safe_names(graphs, platform, flavor):
    rng = np.random.default_rng(1)
    tags = (("id-a", "a"), ("id-b", "b/../../c"), ("id-c", "c"))  # a tag name is content, never a path
    job = ExportJob(platform, flavor, GENERAL_COMPACT, "project", "iteration", tags,
                    _head("Regular", rng).to_bytes())
    with zipfile.ZipFile(io.BytesIO(build(job))) as z:
        names = z.namelist()
        assert all(safe_member_name(n) for n in names)
        labels = z.read("app/labels.txt" if platform == "DockerFile" else "labels.txt").decode().splitlines()
        assert labels == ["a", "b/../../c", "c"]
        if platform == "ONNX":
            manifest = json.loads(z.read("cvexport.manifest"))
            assert manifest["ModelFileName"] == "model.onnx" and manifest["Flavor"] == (flavor or "")


@pytest.mark.parametrize("name,safe", [("model.onnx", True), ("variables/variables.index", True),
                                       ("../model.onnx", False), ("/etc/passwd", False), ("a/../../b", False),
                                       ("C:/x", False), ("a\\b", False), ("", False), ("./a", False)])
def test_safe_member_names(name, safe):
    assert safe_member_name(name) is safe
