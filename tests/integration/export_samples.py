"""Microsoft's sample clients for the export platforms, written as the samples are (Azure-Samples/
customvision-export-samples @ 54acd7e, samples/python/<platform>/classification/predict.py): the model read the
way the sample reads it, each photo opened with PIL and resized whole to the input's size, laid out, ordered and
scaled exactly as the sample does it, the first output read. What differs, and changes no number: the model
comes as bytes or a folder instead of a path on the command line, a photo as a file object, the frozen graph
runs in one session for all photos (the sample opens one per photo) on batches of the same arrays, and the ONNX
sessions do not spin while they wait (harness/onnx_session.py).

OpenVINO: the sample is written for OpenVINO 2021.3's `openvino.inference_engine.IECore`, which has no release
for Python 3.11 and is gone from OpenVINO 2022+; the same steps through today's `openvino.Core` (read the
xml and bin, the input's shape [2:], RGB, NCHW, divided by 255, the first output), compiled in float32 (what
the sample gets everywhere but on CPUs with bfloat16, where OpenVINO would choose bfloat16; docs/self-hosted.md).

ONNX: the classification sample, and the two object detection samples (object_detection: the YOLO grid of
General (compact), decoded with the sample's anchors and its non-maximum suppression; object_detection_s1: the
boxes, classes and scores of General (compact) [S1]), which share the classification sample's input."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import onnx
import PIL.Image
from harness import onnx_session


def _tensorflow():
    import tensorflow

    return tensorflow


class TensorFlowFrozenGraph:
    """samples/python/tensorflow/classification/predict.py (bgr=False: classification_s1/predict.py)."""

    def __init__(self, model_bytes: bytes, bgr: bool = True):
        tensorflow = _tensorflow()
        self.bgr = bgr
        self.graph_def = tensorflow.compat.v1.GraphDef()
        self.graph_def.ParseFromString(model_bytes)
        input_names, self.output_names = self._get_graph_inout(self.graph_def)
        assert len(input_names) == 1
        self.input_name = input_names[0]
        self.input_shape = self._get_input_shape(self.graph_def, self.input_name)
        self.graph = tensorflow.Graph()
        with self.graph.as_default():
            tensorflow.import_graph_def(self.graph_def, name='')
        self.session = tensorflow.compat.v1.Session(graph=self.graph)

    def input_array(self, image_file) -> np.ndarray:
        image = PIL.Image.open(image_file).resize(self.input_shape)
        input_array = np.array(image, dtype=np.float32)[np.newaxis, :, :, :]
        if self.bgr:
            input_array = input_array[:, :, :, (2, 1, 0)]  # => BGR
        return input_array

    def predict(self, image_files: list, batch: int = 16) -> np.ndarray:
        """The first output's row for each photo."""
        out_tensors = [self.session.graph.get_tensor_by_name(o + ':0') for o in self.output_names]
        rows = []
        for start in range(0, len(image_files), batch):
            arrays = np.concatenate([self.input_array(f) for f in image_files[start:start + batch]])
            rows.append(self.session.run(out_tensors, {self.input_name + ':0': arrays})[0])
        return np.concatenate(rows)

    @staticmethod
    def _get_graph_inout(graph_def):
        input_names = []
        inputs_set = set()
        outputs_set = set()

        for node in graph_def.node:
            if node.op == 'Placeholder':
                input_names.append(node.name)

            for i in node.input:
                inputs_set.add(i.split(':')[0])
            outputs_set.add(node.name)

        output_names = list(outputs_set - inputs_set)
        return input_names, output_names

    @staticmethod
    def _get_input_shape(graph_def, input_name):
        for node in graph_def.node:
            if node.name == input_name:
                return [dim.size for dim in node.attr['shape'].shape.dim][1:3]


class TensorFlowSavedModel:
    """samples/python/tensorflow_saved_model/classification/predict.py"""

    def __init__(self, model_dirpath: Path, bgr: bool = True):
        tensorflow = _tensorflow()
        self.bgr = bgr
        model = tensorflow.saved_model.load(str(model_dirpath))
        self.serve = model.signatures['serving_default']
        self.input_shape = self.serve.inputs[0].shape[1:3]

    def predict_one(self, image_file) -> dict:
        tensorflow = _tensorflow()
        image = PIL.Image.open(image_file).resize(self.input_shape)
        input_array = np.array(image, dtype=np.float32)[np.newaxis, :, :, :]
        if self.bgr:
            input_array = input_array[:, :, :, (2, 1, 0)]  # => BGR

        input_tensor = tensorflow.convert_to_tensor(input_array)
        return self.serve(input_tensor)

    def predict(self, image_files: list) -> np.ndarray:
        return np.concatenate([list(self.predict_one(f).values())[0].numpy() for f in image_files])


class TensorFlowLite:
    """samples/python/tensorflow_lite/classification/predict.py"""

    def __init__(self, model_filepath: Path, bgr: bool = True):
        tensorflow = _tensorflow()
        self.bgr = bgr
        self.interpreter = tensorflow.lite.Interpreter(model_path=str(model_filepath))
        self.interpreter.allocate_tensors()

        self.input_details = self.interpreter.get_input_details()
        self.output_details = self.interpreter.get_output_details()
        assert len(self.input_details) == 1 and len(self.output_details) == 1
        self.input_shape = self.input_details[0]['shape'][1:3]

    def predict_one(self, image_file) -> dict:
        image = PIL.Image.open(image_file).resize(self.input_shape)
        input_array = np.array(image, dtype=np.float32)[np.newaxis, :, :, :]
        if self.bgr:
            input_array = input_array[:, :, :, (2, 1, 0)]  # => BGR

        self.interpreter.set_tensor(self.input_details[0]['index'], input_array)
        self.interpreter.invoke()

        return {detail['name']: self.interpreter.get_tensor(detail['index']) for detail in self.output_details}

    def predict(self, image_files: list) -> np.ndarray:
        return np.concatenate([list(self.predict_one(f).values())[0] for f in image_files])


def import_openvino():
    sys.modules.setdefault("openvino_telemetry", None)  # as the service does: OpenVINO reports nothing
    import openvino

    return openvino


class OpenVino:
    """samples/python/openvino/classification/predict.py, through `openvino.Core` (see the module's note)."""

    def __init__(self, xml_filepath: Path, bin_filepath: Path):
        ov = import_openvino()
        core = ov.Core()
        net = core.read_model(str(xml_filepath), str(bin_filepath))
        assert len(net.inputs) == 1

        # Float32 pinned: on CPUs with bfloat16 (Intel AMX, AVX512-BF16) OpenVINO's CPU plugin otherwise runs in
        # bfloat16, and close calls move (docs/self-hosted.md); elsewhere float32 is its default, the sample's.
        self.exec_net = core.compile_model(net, 'CPU', {"INFERENCE_PRECISION_HINT": "f32"})
        self.input_name = net.inputs[0].get_any_name()
        self.input_shape = list(net.inputs[0].shape)[2:]
        self.output_names = [o.get_any_name() for o in net.outputs]

    def predict_one(self, image_file) -> dict:
        # The model requires RGB[0-1] NCHW input.
        image = PIL.Image.open(image_file).resize(self.input_shape)
        input_array = np.array(image)[np.newaxis, :, :, :]
        input_array = input_array.transpose((0, 3, 1, 2))  # => (N, C, H, W)
        input_array = input_array / 255  # => Pixel values should be in range [0, 1]

        results = self.exec_net.infer_new_request({self.input_name: input_array})
        return {name: results[self.exec_net.output(name)] for name in self.output_names}

    def predict(self, image_files: list) -> np.ndarray:
        return np.concatenate([list(self.predict_one(f).values())[0] for f in image_files])


# ---- ONNX: samples/python/onnx/classification, object_detection and object_detection_s1 -------------------------

class SampleModel:
    """Azure's ONNX sample (samples/python/onnx/classification/predict.py), as it is written (a model file's
    bytes in place of its path)."""

    def __init__(self, model_bytes: bytes):
        self.session = onnx_session.session(model_bytes)
        assert len(self.session.get_inputs()) == 1
        self.input_shape = self.session.get_inputs()[0].shape[2:]
        self.input_name = self.session.get_inputs()[0].name
        self.input_type = {"tensor(float)": np.float32, "tensor(float16)": np.float16}[
            self.session.get_inputs()[0].type]
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.is_bgr = False
        self.is_range255 = False
        for metadata in onnx.load_from_string(model_bytes).metadata_props:
            if metadata.key == "Image.BitmapPixelFormat" and metadata.value == "Bgr8":
                self.is_bgr = True
            elif metadata.key == "Image.NominalPixelRange" and metadata.value == "NominalRange_0_255":
                self.is_range255 = True

    def input_array(self, image_file) -> np.ndarray:
        image = PIL.Image.open(image_file).resize(self.input_shape)
        input_array = np.array(image, dtype=np.float32)[np.newaxis, :, :, :]
        input_array = input_array.transpose((0, 3, 1, 2))  # => (N, C, H, W)
        if self.is_bgr:
            input_array = input_array[:, (2, 1, 0), :, :]
        if not self.is_range255:
            input_array = input_array / 255
        return input_array

    def run(self, image_file) -> list:
        return self.session.run(self.output_names, {self.input_name: self.input_array(image_file).astype(
            self.input_type)})

    def predict(self, image_file) -> dict:
        outputs = self.run(image_file)
        return {name: outputs[i] for i, name in enumerate(self.output_names)}


class S1Sample(SampleModel):
    """samples/python/onnx/object_detection_s1/predict.py: the graph gives boxes, classes and scores."""

    def predict(self, image_file) -> dict:
        assert set(self.output_names) == {"detected_boxes", "detected_classes", "detected_scores"}
        return super().predict(image_file)


class CompactSample(SampleModel):
    """samples/python/onnx/object_detection/predict.py: one grid output, decoded with the sample's anchors, then
    its non-maximum suppression (at most 64 boxes, probability over 0.01, IoU 0.45)."""
    ANCHORS = np.array([[0.573, 0.677], [1.87, 2.06], [3.34, 5.47], [7.88, 3.53], [9.77, 9.17]])

    def predict(self, image_file) -> dict:
        assert len(self.output_names) == 1
        outputs = self.run(image_file)[0]
        outputs = outputs[0].transpose((1, 2, 0))
        num_anchors = self.ANCHORS.shape[0]
        height, width, channels = outputs.shape
        num_classes = channels // num_anchors - 5
        outputs = outputs.reshape((height, width, num_anchors, -1))
        x = (outputs[..., 0] + np.arange(width)[np.newaxis, :, np.newaxis]) / width
        y = (outputs[..., 1] + np.arange(height)[:, np.newaxis, np.newaxis]) / height
        w = np.exp(outputs[..., 2]) * self.ANCHORS[:, 0][np.newaxis, np.newaxis, :] / width
        h = np.exp(outputs[..., 3]) * self.ANCHORS[:, 1][np.newaxis, np.newaxis, :] / height
        x = x - w / 2
        y = y - h / 2
        boxes = np.stack((x, y, x + w, y + h), axis=-1).reshape(-1, 4)
        objectness = 1 / (1 + np.exp(-outputs[..., 4, np.newaxis]))
        class_probs = outputs[..., 5:]
        class_probs = np.exp(class_probs - np.amax(class_probs, axis=3)[..., np.newaxis])
        class_probs = (class_probs / np.sum(class_probs, axis=3)[..., np.newaxis] * objectness).reshape(-1, num_classes)
        selected_boxes, selected_classes, selected_probs = sample_nms(boxes, class_probs)
        return {"detected_boxes": selected_boxes.reshape(1, -1, 4),
                "detected_classes": selected_classes.reshape(1, -1),
                "detected_scores": selected_probs.reshape(1, -1)}


def sample_nms(boxes, class_probs, max_detections=64, prob_threshold=0.01, iou_threshold=0.45):
    """The sample's NonMaxSuppression.__call__, as it reads (boxes [x, y, x2, y2])."""
    classes = np.argmax(class_probs, axis=1)
    probs = class_probs[np.arange(len(class_probs)), classes]
    valid = probs > prob_threshold
    boxes, classes, probs = boxes[valid, :], classes[valid], probs[valid]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    selected_boxes, selected_classes, selected_probs = [], [], []
    max_detections = min(max_detections, len(boxes))
    while len(selected_boxes) < max_detections:
        i = np.argmax(probs)
        if probs[i] < prob_threshold:
            break
        selected_boxes.append(boxes[i])
        selected_classes.append(classes[i])
        selected_probs.append(probs[i])
        box = boxes[i]
        other = np.concatenate((np.arange(i), np.arange(i + 1, len(boxes))))
        xy = np.maximum(box[0:2], boxes[other][:, 0:2])
        xy2 = np.minimum(box[2:4], boxes[other][:, 2:4])
        wh = np.maximum(0, xy2 - xy)
        overlap = wh[:, 0] * wh[:, 1]
        iou = overlap / (areas[i] + areas[other] - overlap)
        overlapping = np.append(other[np.where(iou > iou_threshold)[0]], i)
        probs[overlapping] = 0
    return np.array(selected_boxes).reshape(-1, 4), np.array(selected_classes), np.array(selected_probs)


# ---- DockerFile: the package's server, run as a process (no Docker engine here) ----------------------------------

@contextmanager
def dockerfile_server(folder: Path):
    """The unzipped DockerFile package's app/server.py on a free port, once it answers: its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, str(folder / "app" / "server.py"), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(10)
