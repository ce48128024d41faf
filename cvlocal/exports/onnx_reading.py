"""An exported model's ONNX graph, read for translation into another platform's operations.

What every translation (exports/tensorflow_graph.py for TensorFlow, exports/coreml.py for Core ML) needs to
know before it writes an op: static shapes (ONNX shape inference, with sizes computed from shapes propagated),
the values known before the graph runs (weights, shape computations), and the nodes the outputs need, in
graph order. A slice that is exactly one input of a concatenation reads that input, so what the other inputs
compute (features a head does not read, such as Lite0's thumbnail in Regular and Advanced heads) is neither
needed nor translated.
"""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference


class UnsupportedGraph(ValueError):
    """The graph uses something a translation does not write."""


def attrs(node) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class GraphReader:
    def __init__(self, model: onnx.ModelProto):
        model = shape_inference.infer_shapes(model, data_prop=True)  # data_prop: sizes computed from shapes
        graph = model.graph
        if len(graph.input) != 1:
            raise UnsupportedGraph(f"the graph has {len(graph.input)} inputs; an image model has one")
        self.graph = graph
        self.input_name = graph.input[0].name
        self.output_names = [o.name for o in graph.output]
        self.shapes = {v.name: [d.dim_value or None for d in v.type.tensor_type.shape.dim]
                       for v in list(graph.value_info) + list(graph.input) + list(graph.output)}
        self.consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.producers = {o: n for n in graph.node for o in n.output}
        self.alias = {n.output[0]: part for n in graph.node if (part := self._part_of_concat(n)) is not None}
        self.needed = self._needed(self.output_names)

    def nodes(self) -> Iterator[onnx.NodeProto]:
        """The nodes the outputs need, in graph order (ONNX keeps nodes topologically sorted)."""
        for node in self.graph.node:
            if any(o in self.needed for o in node.output):
                yield node

    def source(self, name: str) -> str:
        """The value a name reads: itself, or the concatenation's input a slice of it selects."""
        return self.alias.get(name, name)

    def rank(self, name: str) -> int:
        return len(self.shapes[name])

    def const(self, name: str) -> np.ndarray | None:
        """A value known before the graph runs: an initializer, or a shape computation on static shapes."""
        if name in self.consts:
            return self.consts[name]
        node = self.producers.get(name)
        if node is not None and node.op_type == "Shape":
            return np.array([d if d is not None else -1 for d in self.shapes[node.input[0]]], np.int64)
        if node is not None and node.op_type in ("Slice", "Concat") and all(
                self.const(i) is not None for i in node.input if i):
            args = [self.const(i) for i in node.input if i]
            if node.op_type == "Concat":
                return np.concatenate(args, axis=attrs(node).get("axis", 0))
            starts, ends = args[1], args[2]
            axes = args[3] if len(args) > 3 else range(len(starts))
            index = [slice(None)] * args[0].ndim
            for a, s, e in zip(axes, starts, ends):
                index[a] = slice(int(s), int(e))
            return args[0][tuple(index)]
        return None

    def _needed(self, outputs: list[str]) -> set[str]:
        needed, todo = set(), list(outputs)
        while todo:
            name = self.source(todo.pop())
            if name in needed or self.const(name) is not None:  # constants are read where they are used
                continue
            needed.add(name)
            node = self.producers.get(name)
            if node is not None:
                todo += [i for i in node.input if i]
        return needed

    def _part_of_concat(self, node) -> str | None:
        """The Concat input a Slice node selects exactly (one axis, step 1), if it does."""
        if node.op_type != "Slice" or not all(i in self.consts for i in node.input[1:] if i):
            return None
        source = self.producers.get(node.input[0])
        args = [self.consts[i] for i in node.input[1:] if i]
        if source is None or source.op_type != "Concat" or len(args[0]) != 1:
            return None
        rank = len(self.shapes[source.output[0]])
        axis = int(args[2][0]) % rank if len(args) > 2 else 0
        if (len(args) > 3 and int(args[3][0]) != 1) or attrs(source)["axis"] % rank != axis:
            return None
        start, end, offset = int(args[0][0]), int(args[1][0]), 0
        for part in source.input:
            width = self.shapes[part][axis]
            if (start, end) == (offset, offset + width):
                return part
            offset += width
        return None
