"""An object detection iteration's ONNX export: the detector's graph (model/detection's `onnx_export`) in the layout
Azure exports for the iteration's compact domain, its labels and a README saying how to run it.

Azure-Samples/customvision-export-samples reads each layout as it is (one float32 NCHW input of the size the graph
names, RGB, values as `Image.NominalPixelRange` says, the whole image resized to it):
- General (compact): `samples/python/onnx/object_detection/predict.py`: one output, `model_outputs0`, a
  YOLOv2-style grid the client decodes with the sample's five anchors, then suppresses;
- General (compact) [S1]: `samples/python/onnx/object_detection_s1/predict.py`: `detected_boxes` ([1, N, 4]:
  left, top, right, bottom, normalised), `detected_classes` ([1, N], the line of labels.txt) and
  `detected_scores` ([1, N]), suppressed inside the graph.
The export worker builds the graph (exports/graph.detection_graph) and the package (exports/packages.py); the
DockerFile export serves the same graph (training/container/server.py reads both).
"""
from __future__ import annotations

# The layout of each exportable object detection domain (Azure's: one per compact domain).
LAYOUTS = {"a27d5ca5-bb19-49d8-a70a-fec086c47f5b": "compact",      # General (compact)
           "7ec2ac80-887b-48a6-8df9-8b1357765430": "compact-s1"}   # General (compact) [S1]
SAMPLES = {"compact": "samples/python/onnx/object_detection/predict.py",
           "compact-s1": "samples/python/onnx/object_detection_s1/predict.py"}
README = """Exported by cvlocal (self-hosted Custom Vision): an object detection iteration, layout {layout}.
model.onnx: input '{input}', float32 {shape}, RGB ({pixels}); the whole image resized to the input's size.
Outputs: {outputs}. Boxes are normalised to the image; a class is the line of labels.txt (0-based).
{about}
Azure's export sample for this layout (Azure-Samples/customvision-export-samples, {sample}) runs it as it is.
"""


def export_layout(domain_id: str) -> str:
    """The layout Azure exports an iteration of this (compact, object detection) domain in."""
    return LAYOUTS[domain_id.lower()]


def detection_readme(model, domain_id: str) -> str:
    """README.txt of a detector's ONNX export (`model`, from `onnx_export`) in its domain's layout."""
    layout = export_layout(domain_id)
    tensor = model.graph.input[0]
    shape = [d.dim_value or d.dim_param or "N" for d in tensor.type.tensor_type.shape.dim]
    meta = {p.key: p.value for p in model.metadata_props}
    pixels = "values 0..255" if meta.get("Image.NominalPixelRange") == "NominalRange_0_255" else "values 0..1"
    return README.format(layout=layout, input=tensor.name, shape=shape, pixels=pixels, about=model.doc_string,
                         outputs=", ".join(f"'{o.name}'" for o in model.graph.output), sample=SAMPLES[layout])
