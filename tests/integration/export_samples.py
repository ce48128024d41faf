"""Microsoft's sample clients for the export platforms, written as the samples are (Azure-Samples/
customvision-export-samples @ 54acd7e, samples/python/<platform>/classification/predict.py): the model read the
way the sample reads it, each photo opened with PIL and resized whole to the input's size, laid out, ordered and
scaled exactly as the sample does it, the first output read. What differs, and changes no number: the model
comes as bytes or a folder instead of a path on the command line, a photo as a file object, and the frozen
graph runs in one session for all photos (the sample opens one per photo) on batches of the same arrays.

OpenVINO: the sample is written for OpenVINO 2021.3's `openvino.inference_engine.IECore`, which has no release
for Python 3.11 and is gone from OpenVINO 2022+; the same steps through today's `openvino.Core` (read the
xml and bin, the input's shape [2:], RGB, NCHW, divided by 255, the first output)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import PIL.Image


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

        self.exec_net = core.compile_model(net, 'CPU')
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
