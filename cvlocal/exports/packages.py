"""An export's package: the zip `export_iteration` builds for a platform and flavor, in Azure's layout.

Every package holds the model file(s) under Azure's names, `labels.txt` (one tag a line, in the order of the
model's outputs), `cvexport.manifest` (what the package is and which file is which, as Azure's packages say it)
and, beside a model that does not carry them itself, `metadata_properties.json` (how the model is fed, in the
ONNX metadata props' words). DockerFile packages are a build context instead (exports/docker.py).

`build` runs in the export worker's process (exports/worker.py): it is handed an `ExportJob` (plain data) and
returns the zip's bytes. `model_graph` is where a kind of model becomes the graph the writers read: a
classifier's head or an object detector (exports/graph.py).
"""
from __future__ import annotations

import io
import json
import posixpath
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone

from ..model.head import Head
from ..model.onnx_export import OUTPUT_NAME
from .conventions import Convention, convention
from .graph import CLASSIFICATION, OBJECT_DETECTION, ModelGraph, classification_graph, detection_graph

MANIFEST, METADATA, LABELS = "cvexport.manifest", "metadata_properties.json", "labels.txt"
# The model file a platform's package names in its manifest.
MODEL_FILE = {("ONNX", None): "model.onnx", ("ONNX", "OnnxFloat16"): "model.onnx",
              ("TensorFlow", None): "model.pb", ("TensorFlow", "TensorFlowNormal"): "model.pb",
              ("TensorFlow", "TensorFlowSavedModel"): "saved_model.pb",
              ("TensorFlow", "TensorFlowLite"): "model.tflite", ("TensorFlow", "TensorFlowJs"): "model.json",
              ("OpenVino", None): "model.xml", ("CoreML", None): "model.mlmodel"}
README = """Exported by cvlocal (self-hosted Custom Vision): {platform}{flavor} model of iteration {iteration}.
{model}: {input_text}. Output{outputs}: the probability of each tag, in the order of labels.txt.
Fed as Microsoft's sample for this platform feeds it ({source}).
"""


@dataclass(frozen=True)
class ExportJob:
    """Everything a package is built from; plain data, so it crosses to the worker's process as it is."""
    platform: str
    flavor: str | None
    domain_id: str
    project_id: str
    iteration_id: str
    tags: tuple[tuple[str, str], ...]     # (tag id, tag name) in the model's output order
    model: bytes                          # the trained model as stored (a head's npz, a detector's bytes)
    task: str = CLASSIFICATION


def model_graph(job: ExportJob) -> ModelGraph:
    names = [name for _, name in job.tags]
    if job.task == CLASSIFICATION:
        return classification_graph(Head.from_bytes(job.model), names)
    if job.task == OBJECT_DETECTION:
        return detection_graph(job.model, names, job.domain_id)
    raise NotImplementedError(f"exports of {job.task} iterations are not written yet")


def build(job: ExportJob) -> bytes:
    """The package's zip."""
    return zipped(package_files(job))


def package_files(job: ExportJob) -> dict[str, bytes]:
    graph = model_graph(job)
    labels = "".join(f"{name}\n" for name in graph.labels)
    if job.platform == "DockerFile":
        from .docker import docker_files

        return docker_files(job.flavor, graph.model.SerializeToString(), labels, job.project_id,
                            job.iteration_id, list(job.tags), graph.task)
    if graph.task == OBJECT_DETECTION:  # ONNX only (platforms.DETECTION_EXPORTS), in the domain's layout
        return _detection_onnx_files(job, graph, labels)
    conv = convention(job.platform, job.flavor, job.domain_id)
    files = _model_files(job, graph, conv)
    model_file = MODEL_FILE[(job.platform, job.flavor)]
    files[LABELS] = labels.encode()
    manifest = _manifest(job, graph, model_file)
    if job.platform != "ONNX":  # an ONNX model carries these in its own metadata props
        manifest["MetadataPropsFileName"] = METADATA
        files[METADATA] = json.dumps(metadata_properties(graph, conv), indent=2).encode()
    files[MANIFEST] = json.dumps(manifest, indent=2).encode()
    files["README.txt"] = _readme(job, graph, conv, model_file).encode()
    return files


def _manifest(job: ExportJob, graph: ModelGraph, model_file: str) -> dict[str, str]:
    """cvexport.manifest, as Azure writes it in every package."""
    return {"DomainType": graph.task, "Platform": job.platform, "Flavor": job.flavor or "", "ExporterVersion": "2.0",
            "ExportedDate": datetime.now(timezone.utc).isoformat(), "IterationId": job.iteration_id,
            "ModelFileName": model_file, "LabelFileName": LABELS, "SchemaVersion": "1.0"}


def _detection_onnx_files(job: ExportJob, graph: ModelGraph, labels: str) -> dict[str, bytes]:
    from ..training.detection_export import detection_readme

    return {"model.onnx": graph.model.SerializeToString(), LABELS: labels.encode(),
            MANIFEST: json.dumps(_manifest(job, graph, "model.onnx"), indent=2).encode(),
            "README.txt": detection_readme(graph.model, job.domain_id).encode()}


def _model_files(job: ExportJob, graph: ModelGraph, conv: Convention) -> dict[str, bytes]:
    platform, flavor = job.platform, job.flavor
    if platform == "ONNX":
        from .onnx_variants import float16

        return {"model.onnx": (float16(graph) if flavor == "OnnxFloat16" else graph.model).SerializeToString()}
    if platform == "OpenVino":
        from .openvino import openvino_ir

        return openvino_ir(graph, conv)
    if platform == "CoreML":
        from .coreml import mlmodel

        return {"model.mlmodel": mlmodel(graph)}
    if platform == "TensorFlow":
        from . import tensorflow as tf_export
        from .tensorflow_graph import plan

        translated = plan(graph.model)
        if flavor in (None, "TensorFlowNormal"):
            return {"model.pb": tf_export.frozen_graph(graph, conv, translated).SerializeToString()}
        if flavor == "TensorFlowSavedModel":
            return tf_export.saved_model_files(graph, conv, translated)
        if flavor == "TensorFlowLite":
            return {"model.tflite": tf_export.tflite(graph, conv, translated)}
        if flavor == "TensorFlowJs":
            from .tfjs import graph_model

            frozen = tf_export.frozen_graph(graph, conv, translated)
            return graph_model(frozen, metadata_properties(graph, conv))
    raise ValueError(f"no package for {platform} {flavor}")


def metadata_properties(graph: ModelGraph, conv: Convention) -> dict[str, str]:
    """How the model is fed and what it answers, in the keys Azure's packages use (values: this model's)."""
    side = str(graph.input_size)
    return {"CustomVision.Metadata.Version": "1.1",
            "CustomVision.Postprocess.Method": "ClassificationMultiLabel" if graph.multilabel else
            "ClassificationMultiClass",
            "CustomVision.Preprocess.CropMethod": "CenterSquare" if conv.crops == "centre square" else "NoCrop",
            "CustomVision.Preprocess.ResizeMethod": "Stretch",
            "CustomVision.Preprocess.TargetWidth": side, "CustomVision.Preprocess.TargetHeight": side,
            "CustomVision.Preprocess.NormalizeMean": "[0.0, 0.0, 0.0]",
            "CustomVision.Preprocess.NormalizeStd": "[1.0, 1.0, 1.0]",
            "Image.BitmapPixelFormat": "Bgr8" if conv.channels == "BGR" else "Rgb8",
            "Image.ColorSpaceGamma": "SRGB",
            "Image.NominalPixelRange": "NominalRange_0_255" if conv.scale == 1.0 else "Normalized_0_1"}


def _readme(job: ExportJob, graph: ModelGraph, conv: Convention, model_file: str) -> str:
    side = graph.input_size
    shape = {"NCHW": f"[N, 3, {side}, {side}]", "NHWC": f"[N, {side}, {side}, 3]",
             "image": f"a {side}x{side} image"}[conv.layout]
    resize = ("the centre square of the image resized to {side}x{side}" if conv.crops == "centre square"
              else graph.client_resize).format(side=side)
    input_text = f"input {shape} {conv.dtype}, {conv.channels}, values {conv.value_range}: {resize}"
    outputs = {"CoreML": " 'loss' (and 'classLabel', the top tag)", "TensorFlow": " 'loss'"}.get(
        job.platform, f" '{OUTPUT_NAME}'")
    return README.format(platform=job.platform, flavor=f" ({job.flavor})" if job.flavor else "",
                         iteration=job.iteration_id, model=model_file, input_text=input_text, outputs=outputs,
                         source=conv.source)


TEXT = (".txt", ".json", ".manifest", ".xml", ".py", "Dockerfile")


def zipped(files: dict[str, bytes]) -> bytes:
    """The files as a zip; every name a plain relative path, so no client's unzip writes outside its folder.
    Text is deflated; weights are stored as they are (float weights deflate by 7%, at seconds a model)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            if not safe_member_name(name):
                raise ValueError(f"refusing to write {name!r} into an export package")
            z.writestr(name, data, zipfile.ZIP_DEFLATED if name.endswith(TEXT) else zipfile.ZIP_STORED)
    return buf.getvalue()


def safe_member_name(name: str) -> bool:
    """A relative POSIX path inside the archive: no drive, no leading slash, no '..', no backslash."""
    return bool(name) and "\\" not in name and ":" not in name and not name.startswith("/") \
        and ".." not in name.split("/") and posixpath.normpath(name) == name
