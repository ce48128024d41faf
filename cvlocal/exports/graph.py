"""The model graph every export platform writes: one ONNX graph, its labels, and what kind of model it is.

Every platform's writer (exports/packages.py) starts from a `ModelGraph`, never from a head: the ONNX graph
(model/onnx_export.py) is the one description of the computation, whose input is one float32 NCHW image in RGB
0..255 at the graph's own size, and whose outputs are named in `outputs`. Each writer adds only its platform's
input convention (exports/conventions.py) and file format.

Classification is the one kind today (`classification_graph`: `model_outputs0`, the per-tag probabilities).
Object detection plugs in here: a `detection_graph(...)` giving its ONNX graph, `task="ObjectDetection"` and
its outputs; the writers that handle detection check `task` where they name outputs (CoreML's classifier
description, TensorFlow's output node names) and exports/tensorflow_graph.py gains the ops it uses.
"""
from __future__ import annotations

from dataclasses import dataclass

import onnx

from ..model.head import Head

CLASSIFICATION, OBJECT_DETECTION = "Classification", "ObjectDetection"


@dataclass(frozen=True)
class ModelGraph:
    model: onnx.ModelProto      # one input: float32 [N, 3, S, S], RGB, 0..255
    labels: tuple[str, ...]     # in the order of the outputs' last axis (labels.txt)
    task: str                   # Classification | ObjectDetection
    multilabel: bool = False    # classification: sigmoid per tag instead of softmax
    # What the client should do to get the service's answer (heads trained before the squash preprocessing
    # took a centre crop of the short side resized to 256, which the graph does not make itself).
    client_resize: str = "the whole image resized to {side}x{side}"

    @property
    def input_name(self) -> str:
        return self.model.graph.input[0].name

    @property
    def input_size(self) -> int:
        """S: the square side the graph takes."""
        return self.model.graph.input[0].type.tensor_type.shape.dim[2].dim_value

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.model.graph.output)


def classification_graph(head: Head, labels: list[str] | tuple[str, ...]) -> ModelGraph:
    """A trained head (Regular, Advanced, or one saved before heads recorded their input) as a model graph."""
    from ..model.onnx_export import build_head_model, exports_as_before

    resize = ("the short side resized to 256 and the centre {side}x{side} cropped" if exports_as_before(head)
              else ModelGraph.client_resize)
    return ModelGraph(build_head_model(head, list(labels)), tuple(labels), CLASSIFICATION, head.multilabel,
                      resize)
