"""A Custom Vision iteration's model behind Custom Vision's prediction API: the DockerFile export's server.

Shipped inside the export (app/server.py beside model.onnx, labels.txt and tags.json) and run there with
nothing but the Python standard library, onnxruntime, numpy and Pillow. Like the container Azure exports:

    GET  /                                   a line saying what this is
    POST /image                              the image as the body (or multipart/form-data, file 'imageData')
    POST /url                                {"Url": "https://..."}: the image is fetched from there
    and both under /<project>/classify/iterations/<name>/ or /<project>/detect/iterations/<name>/ (and /nostore),
    the prediction API's own paths

Answers are Custom Vision's ImagePrediction: {"id", "project", "iteration", "created", "predictions": [{
"probability", "tagId", "tagName", "boundingBox"}, ...]} with the most probable first: a tag each (boundingBox
null) from a classifier; from an object detector (tags.json says "type": "ObjectDetection"), a box each
({"left", "top", "width", "height"}, normalised to the image), read from the graph's `detected_boxes`,
`detected_classes` and `detected_scores` (General (compact) [S1]), or decoded from its `model_outputs0` grid
and suppressed as Microsoft's object detection export sample does (General (compact)). Bad input gets 400 with
{"code", "message"}. The image is fed to the model as Azure's export samples feed it: EXIF
orientation applied, RGB, the whole image resized to the model's input size, NCHW float in the range the
model's metadata names (`Image.NominalPixelRange`), channels swapped if it says Bgr8.
"""
from __future__ import annotations

import argparse
import email.parser
import email.policy
import io
import json
import re
import sys
import urllib.request
import uuid
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

HERE = Path(__file__).resolve().parent
MAX_BYTES = 4 * 1024 * 1024  # the prediction API's limit
URL_TIMEOUT_S = 10
ROUTE = re.compile(r"^(?:/[^/]+(?:/(?:classify|detect)/iterations/[^/]+)?)?/(image|url)(?:/nostore)?/?$",
                   re.IGNORECASE)
BANNER = "CustomVision.ai model host harness (exported by cvlocal)"
# A General (compact) detector's grid is read as Azure-Samples/customvision-export-samples'
# samples/python/onnx/object_detection/predict.py reads it: these anchors (in cells), then suppression.
ANCHORS = np.array([[0.573, 0.677], [1.87, 2.06], [3.34, 5.47], [7.88, 3.53], [9.77, 9.17]])
MAX_DETECTIONS, MIN_PROBABILITY, NMS_IOU = 64, 0.01, 0.45


class BadRequest(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


class Model:
    """model.onnx with its labels and tag ids, fed as its metadata says."""

    def __init__(self, folder: Path = HERE):
        self.session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        tensor = self.session.get_inputs()[0]
        self.input_name, self.side = tensor.name, int(tensor.shape[2])
        self.bgr = meta.get("Image.BitmapPixelFormat") == "Bgr8"
        self.range_255 = meta.get("Image.NominalPixelRange") == "NominalRange_0_255"
        self.output_name = self.session.get_outputs()[0].name
        self.outputs = [o.name for o in self.session.get_outputs()]
        labels = (folder / "labels.txt").read_text().splitlines()
        about = json.loads((folder / "tags.json").read_text())
        self.project, self.iteration = about["project"], about["iteration"]
        self.detection = about.get("type") == "ObjectDetection"
        self.tags = [(t["id"], t["name"]) for t in about["tags"]]
        if [name for _, name in self.tags] != labels:
            raise ValueError("tags.json and labels.txt name different tags")

    def predict(self, data: bytes) -> dict:
        try:
            img = Image.open(io.BytesIO(data))
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                img = Image.new("RGB", rgba.size, (255, 255, 255))
                img.paste(rgba, mask=rgba.getchannel("A"))
            img = img.convert("RGB").resize((self.side, self.side))
        except Exception as exc:  # Pillow raises many kinds for bad bytes
            raise BadRequest("BadRequestImageFormat", f"The image could not be decoded: {exc}") from None
        x = np.asarray(img, np.float32)[np.newaxis].transpose(0, 3, 1, 2)
        if self.bgr:
            x = x[:, ::-1]
        if not self.range_255:
            x = x / 255.0
        answer = {"id": str(uuid.uuid4()), "project": self.project, "iteration": self.iteration,
                  "created": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        if self.detection:
            return {**answer, "predictions": self._boxes(np.ascontiguousarray(x))}
        p = self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(x)})[0][0]
        order = np.argsort(-p, kind="stable")
        return {**answer, "predictions": [{"probability": float(p[i]), "tagId": self.tags[i][0],
                                           "tagName": self.tags[i][1], "boundingBox": None} for i in order]}

    def _boxes(self, x: np.ndarray) -> list[dict]:
        found = dict(zip(self.outputs, self.session.run(self.outputs, {self.input_name: x})))
        if "detected_boxes" in found:
            boxes, classes, scores = (found[k][0] for k in ("detected_boxes", "detected_classes", "detected_scores"))
        else:
            boxes, classes, scores = suppressed(*decode_grid(found[self.outputs[0]][0]))
        out = []
        for i in np.argsort(-scores, kind="stable"):
            left, top = (float(np.clip(v, 0.0, 1.0)) for v in boxes[i][:2])
            right, bottom = (float(np.clip(v, 0.0, 1.0)) for v in boxes[i][2:])
            tag_id, name = self.tags[int(classes[i])]
            out.append({"probability": float(scores[i]), "tagId": tag_id, "tagName": name,
                        "boundingBox": {"left": left, "top": top, "width": right - left, "height": bottom - top}})
        return out


def decode_grid(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A [5*(5+K), H, W] grid -> (boxes [N, 4] as x1, y1, x2, y2 normalised, tag probabilities [N, K])."""
    grid = grid.transpose(1, 2, 0)
    height, width, channels = grid.shape
    grid = grid.reshape(height, width, len(ANCHORS), channels // len(ANCHORS))
    w = np.exp(grid[..., 2]) * ANCHORS[:, 0] / width
    h = np.exp(grid[..., 3]) * ANCHORS[:, 1] / height
    x = (grid[..., 0] + np.arange(width)[np.newaxis, :, np.newaxis]) / width - w / 2
    y = (grid[..., 1] + np.arange(height)[:, np.newaxis, np.newaxis]) / height - h / 2
    objectness = 1 / (1 + np.exp(-grid[..., 4:5]))
    logits = grid[..., 5:] - grid[..., 5:].max(axis=-1, keepdims=True)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True) * objectness
    return np.stack([x, y, x + w, y + h], axis=-1).reshape(-1, 4), probabilities.reshape(-1, grid.shape[-1] - 5)


def suppressed(boxes: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy non-maximum suppression over each box's most probable tag: (boxes, classes, scores) kept."""
    classes = probabilities.argmax(axis=1)
    scores = probabilities[np.arange(len(boxes)), classes]
    keep = scores > MIN_PROBABILITY
    boxes, classes, scores = boxes[keep], classes[keep], scores[keep]
    left = scores.copy()  # what is still in the running
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    chosen = []
    while len(chosen) < MAX_DETECTIONS and len(left) and left.max() > MIN_PROBABILITY:
        i = int(left.argmax())
        chosen.append(i)
        corner = np.maximum(boxes[i, :2], boxes[:, :2])
        far = np.minimum(boxes[i, 2:], boxes[:, 2:])
        overlap = np.prod(np.clip(far - corner, 0, None), axis=1)
        left[overlap / (areas[i] + areas - overlap) > NMS_IOU] = 0
        left[i] = 0
    kept = np.array(chosen, np.int64)
    return boxes[kept], classes[kept], scores[kept]


def image_from_form(content_type: str, body: bytes) -> bytes:
    """The first file part of a multipart/form-data body ('imageData', as the SDK names it, or any)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + body)
    parts = [p for p in message.iter_parts() if p.get_content_disposition() == "form-data"]
    named = [p for p in parts if p.get_param("name", header="content-disposition") == "imageData"]
    for part in named + parts:
        return part.get_payload(decode=True) or b""
    raise BadRequest("BadRequestImageStream", "The form has no image: send it in the field 'imageData'.")


def fetch(url: str) -> bytes:
    if not isinstance(url, str) or not re.match(r"^https?://", url, re.IGNORECASE):
        raise BadRequest("BadRequestImageUrl", "Send {\"Url\": \"http(s)://...\"}.")
    try:
        with urllib.request.urlopen(url, timeout=URL_TIMEOUT_S) as answer:
            data = answer.read(MAX_BYTES + 1)
    except Exception as exc:
        raise BadRequest("BadRequestImageUrl", f"The image at the URL could not be fetched: {exc}") from None
    if len(data) > MAX_BYTES:
        raise BadRequest("BadRequestImageSizeBytes", f"The image is over {MAX_BYTES} bytes.")
    return data


class Handler(BaseHTTPRequestHandler):
    model: Model
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 (the stdlib's name)
        if self.path.split("?")[0] == "/":
            return self._send(HTTPStatus.OK, BANNER.encode(), "text/plain; charset=utf-8")
        self._error(HTTPStatus.NOT_FOUND, "NotFound", "Use POST /image or POST /url.")

    def do_POST(self):  # noqa: N802
        match = ROUTE.match(self.path.split("?")[0])
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BYTES:
            self.close_connection = True
            return self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "BadRequestImageSizeBytes",
                               f"The image is over {MAX_BYTES} bytes.")
        body = self.rfile.read(length)
        if not match:
            return self._error(HTTPStatus.NOT_FOUND, "NotFound", "Use POST /image or POST /url.")
        try:
            if match.group(1).lower() == "url":
                try:
                    sent = json.loads(body or b"{}")
                    url = sent.get("Url") or sent.get("url")
                except (ValueError, AttributeError):
                    raise BadRequest("BadRequestImageUrl", "Send {\"Url\": \"http(s)://...\"}.") from None
                data = fetch(url)
            else:
                content_type = self.headers.get("Content-Type", "")
                data = image_from_form(content_type, body) if content_type.startswith("multipart/") else body
            if not data:
                raise BadRequest("BadRequestImageStream", "The request has no image.")
            answer = self.model.predict(data)
        except BadRequest as exc:
            return self._error(HTTPStatus.BAD_REQUEST, exc.code, exc.message)
        except Exception as exc:  # answer, never drop the connection
            sys.stderr.write(f"error: {type(exc).__name__}: {exc}\n")
            return self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "InternalServerError",
                               f"The prediction failed ({type(exc).__name__}).")
        self._send(HTTPStatus.OK, json.dumps(answer).encode(), "application/json")

    def _error(self, status, code: str, message: str) -> None:
        self._send(status, json.dumps({"code": code, "message": message}).encode(), "application/json")

    def _send(self, status, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):  # one line per request on stderr, without the client's address
        sys.stderr.write(f"{self.command} {self.path.split('?')[0]} {args[1] if len(args) > 1 else ''}\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--model-dir", type=Path, default=HERE, help="where model.onnx, labels.txt, tags.json are")
    args = parser.parse_args(argv)
    Handler.model = Model(args.model_dir)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"serving on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
