"""The model graph every export platform writes: one ONNX graph, its labels, and what kind of model it is.

Every platform's writer (exports/packages.py) starts from a `ModelGraph`, never from a head: the ONNX graph
(model/onnx_export.py) is the one description of the computation, whose input is one float32 NCHW image in RGB
0..255 at the graph's own size, and whose outputs are named in `outputs`. Each writer adds only its platform's
input convention (exports/conventions.py) and file format.

Two kinds: `classification_graph` (`model_outputs0`, the per-tag probabilities) and `detection_graph` (the
detector in the layout Azure exports the iteration's compact domain in: training/detection_export.py). Detection
is written as ONNX and DockerFile only (training/platforms.DETECTION_EXPORTS); the other writers would check
`task` where they name outputs, and exports/tensorflow_graph.py would gain the ops the detector uses.
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


def detection_graph(detector: bytes, labels: list[str] | tuple[str, ...], domain_id: str) -> ModelGraph:
    """A stored object detector as a model graph, in the layout of its (compact) domain."""
    from ..model.detection import Detector
    from ..training.detection_export import export_layout

    model = Detector.from_bytes(detector).onnx_export(list(labels), export_layout(domain_id))
    return ModelGraph(model, tuple(labels), OBJECT_DETECTION)
