"""The TensorFlow platform's flavors, written with TensorFlow itself from the translated graph.

- frozen graph (`TensorFlow`, flavor null or `TensorFlowNormal`): `model.pb`, a GraphDef whose weights are
  constants. Input `Placeholder` float32 [None, S, S, 3], output `loss` [N, K]: the names Azure's frozen graphs
  use (the peer tool jesrav/custom-vision-utils reads `Placeholder:0` and `loss:0`), and `loss` is the graph's
  only node nothing reads, which is how Microsoft's sample finds the output.
- SavedModel (`TensorFlowSavedModel`): `saved_model.pb` and `variables/`, signature `serving_default`
  taking `Placeholder` and answering `{"loss": [N, K]}`.
- TensorFlow Lite (`TensorFlowLite`): `model.tflite`, converted by TensorFlow's own converter from the same
  function, one input [1, S, S, 3], one output.
The TensorFlow.js flavor is written from the frozen graph (exports/tfjs.py).

TensorFlow comes from the optional extra (`pip install 'cvops[exports]'`) and is imported only here, in the
export worker's process (exports/worker.py): the service itself never loads it.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .conventions import Convention
from .graph import CLASSIFICATION, ModelGraph
from .tensorflow_graph import Plan, plan

INPUT_NAME = "Placeholder"
CLASSIFICATION_OUTPUTS = ("loss",)


class MissingConverter(RuntimeError):
    """A converter from the `exports` extra is not installed."""


def import_tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # its start-up chatter is not the service's log
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise MissingConverter("TensorFlow exports need TensorFlow: pip install 'cvops[exports]'") from exc
    return tf


def output_names(graph: ModelGraph) -> tuple[str, ...]:
    if graph.task != CLASSIFICATION:
        raise NotImplementedError(f"TensorFlow exports of {graph.task} models are not written yet")
    return CLASSIFICATION_OUTPUTS


def _pixels(tf, x, convention: Convention):
    """The platform's input -> the graph's own (RGB, 0..255): BGR clients get their channels reversed."""
    if convention.scale != 1.0:
        x = x * (1.0 / convention.scale)
    return tf.reverse(x, [-1]) if convention.channels == "BGR" else x


def frozen_graph(graph: ModelGraph, convention: Convention, translated: Plan | None = None):
    """The frozen GraphDef (weights as constants)."""
    tf = import_tensorflow()
    translated = translated or plan(graph.model)
    h, w, c = translated.input_shape
    names = output_names(graph)
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, h, w, c], name=INPUT_NAME)
        constants: dict = {}

        def weight(name):
            if name not in constants:
                constants[name] = tf.constant(translated.weights[name])
            return constants[name]

        outputs = translated.apply(tf, _pixels(tf, x, convention), weight)
    graph_def = g.as_graph_def()
    for out, name in zip(outputs, names):
        _rename(graph_def, out.op.name, name)
    return _prune(graph_def, names)


def _prune(graph_def, outputs):
    """Only the nodes the outputs read (TensorFlow's ops leave a few constants of their own behind, and any
    node nothing reads is an output to Microsoft's sample, which takes every such node as one)."""
    nodes = {n.name: n for n in graph_def.node}
    keep, todo = set(), list(outputs)
    while todo:
        name = todo.pop().lstrip("^").split(":")[0]
        if name not in keep:
            keep.add(name)
            todo += list(nodes[name].input)
    del graph_def.node[:]
    graph_def.node.extend(n for n in nodes.values() if n.name in keep)
    return graph_def


def _rename(graph_def, old: str, new: str) -> None:
    """Name an output's own op (no Identity after it: TensorFlow.js 3 disposes an Identity's input, and
    with it the output, before a client reads it)."""
    for node in graph_def.node:
        if node.name == old:
            node.name = new
        node.input[:] = [new if i == old else new + i[len(old):] if i.startswith(old + ":") else i
                         for i in node.input]


def _module(tf, graph: ModelGraph, convention: Convention, translated: Plan, variables: bool):
    """A tf.Module whose `serve` is the model; weights as variables (SavedModel) or constants."""
    h, w, c = translated.input_shape
    names = output_names(graph)

    class Exported(tf.Module):
        def __init__(self):
            super().__init__(name="customvision")
            self.weights = {k: tf.Variable(v, trainable=False, name=_variable_name(k)) if variables else
                            tf.constant(v) for k, v in translated.weights.items()}

        @tf.function(input_signature=[tf.TensorSpec([None, h, w, c], tf.float32, name=INPUT_NAME)])
        def serve(self, x):
            outs = translated.apply(tf, _pixels(tf, x, convention), self.weights.__getitem__)
            return dict(zip(names, outs))

    return Exported()


def saved_model(graph: ModelGraph, convention: Convention, folder: Path,
                translated: Plan | None = None) -> None:
    """`saved_model.pb` and `variables/` written into `folder`."""
    tf = import_tensorflow()
    module = _module(tf, graph, convention, translated or plan(graph.model), variables=True)
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})


def tflite(graph: ModelGraph, convention: Convention, translated: Plan | None = None) -> bytes:
    """The `.tflite` flatbuffer, from TensorFlow's converter, float32."""
    tf = import_tensorflow()
    module = _module(tf, graph, convention, translated or plan(graph.model), variables=False)
    function = module.serve.get_concrete_function()
    return tf.lite.TFLiteConverter.from_concrete_functions([function], module).convert()


def saved_model_files(graph: ModelGraph, convention: Convention, translated: Plan | None = None) -> dict:
    """{path in the package: bytes} of the SavedModel."""
    with tempfile.TemporaryDirectory(prefix="cvlocal-savedmodel-") as folder:
        saved_model(graph, convention, Path(folder), translated)
        return {p.relative_to(folder).as_posix(): p.read_bytes()
                for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def _variable_name(weight: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in weight)


def constant_values(graph_def) -> dict[str, np.ndarray]:
    """The arrays of a GraphDef's Const nodes, by node name."""
    tf = import_tensorflow()
    return {n.name: tf.make_ndarray(n.attr["value"].tensor) for n in graph_def.node if n.op == "Const"}
