"""The TensorFlow.js flavor: a TensorFlow.js graph model (`model.json` + weight shards) from the frozen graph.

The format is TensorFlow.js's own (tfjs-converter's `graph-model`): `modelTopology` is the GraphDef as JSON
with every Const node's values taken out, `weightsManifest` lists those values in order, by node name, stored
little-endian in shards of at most 4 MB named `group1-shard{i}of{n}.bin`, as tfjs-converter names them.
Written here rather than by the `tensorflowjs` pip package, whose requirements (JAX, Flax, TensorFlow
Decision Forests, TensorFlow Hub) would more than double the extra for what is a JSON file and the weights.

Microsoft's TensorFlow.js libraries (@microsoft/customvision-tfjs and -tfjs-node) load it with
`tf.loadGraphModel`, read the input size from `inputs[0].shape[1]`, crop the centre square, resize it and feed
it BGR unless `userDefinedMetadata` says `Image.BitmapPixelFormat: Rgb8`: the model here takes BGR, which
both libraries feed (the Node one always does).
"""
from __future__ import annotations

import json

import numpy as np

from .tensorflow import constant_values, import_tensorflow

SHARD_BYTES = 4 * 1024 * 1024
CLEARED_TENSOR_FIELDS = ("tensor_content", "half_val", "float_val", "double_val", "int_val", "string_val",
                         "scomplex_val", "int64_val", "bool_val", "resource_handle_val", "variant_val",
                         "uint32_val", "uint64_val")
DTYPES = {np.dtype(np.float32): "float32", np.dtype(np.int32): "int32", np.dtype(np.bool_): "bool"}


def graph_model(graph_def, metadata: dict[str, str]) -> dict[str, bytes]:
    """{file name: bytes}: model.json and its weight shards."""
    tf = import_tensorflow()
    from google.protobuf import json_format

    values = constant_values(graph_def)
    topology = tf.compat.v1.GraphDef()
    topology.CopyFrom(graph_def)
    manifest, chunks = [], []
    for node in topology.node:
        if node.op != "Const":
            continue
        array = values[node.name]
        if array.dtype == np.int64:  # TensorFlow.js has no int64
            array = array.astype(np.int32)
        if array.dtype not in DTYPES:
            raise ValueError(f"{node.name}: {array.dtype} weights have no TensorFlow.js type")
        manifest.append({"name": node.name, "shape": list(array.shape), "dtype": DTYPES[array.dtype]})
        chunks.append(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())
        for name in CLEARED_TENSOR_FIELDS:
            node.attr["value"].tensor.ClearField(name)
    data = b"".join(chunks)
    count = max(1, -(-len(data) // SHARD_BYTES))
    shards = {f"group1-shard{i + 1}of{count}.bin": data[i * SHARD_BYTES:(i + 1) * SHARD_BYTES]
              for i in range(count)}
    model = {"format": "graph-model", "generatedBy": tf.__version__, "convertedBy": "cvlocal",
             "modelTopology": json_format.MessageToDict(topology),
             "weightsManifest": [{"paths": list(shards), "weights": manifest}],
             "userDefinedMetadata": metadata}
    return {"model.json": json.dumps(model).encode(), **shards}
