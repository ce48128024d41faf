"""Exporting a trained iteration: what can be exported, and the packages Azure's export platforms give.

- `ONNX`: a zip of `model.onnx` and `labels.txt` (and a README), in Azure's layout and conventions
  (model/onnx_export.py): what Microsoft's export samples read as they are.
- `DockerFile` (flavor `Linux`, the default): the same model in a container that answers Custom Vision's
  prediction JSON on `/image` and `/url`, as Azure's exported container does (training/container/).
Object detection iterations export their detector in Azure's object detection layout (training/detection_export.py).

A training-side job: it turns a training result into an artefact, as Azure's export does (`Exporting` then
`Done`). It runs within the request today (a few seconds); it can become a queued job like training without
changing its callers.
"""
from __future__ import annotations

import io
import json
import secrets
import zipfile
from importlib import resources

from .. import errors
from ..model.efficientnet_lite import OPSET
from ..model.head import Head
from ..store import Store
from ..store.records import ExportRecord, IterationRecord
from .domains import get_domain
from .platforms import exports_for
README = """Exported by cvlocal (self-hosted Custom Vision).
model.onnx: input '{input}', float32 [N, 3, {size}, {size}], RGB, values 0..255 ({how}); first output '{output}',
float32 [N, K]: the probability of each tag, in the order of labels.txt. The metadata props say the same
(Image.BitmapPixelFormat Rgb8, Image.NominalPixelRange NominalRange_0_255), so Azure's export samples
(Azure-Samples/customvision-export-samples, python/onnx/classification/predict.py) run it as they are.
"""
DOCKER_README = """Exported by cvlocal (self-hosted Custom Vision): this iteration's model in a container that answers
as Custom Vision's prediction API does.

    docker build -t {name} .
    docker run -p 127.0.0.1:80:80 -d {name}
    curl -X POST http://127.0.0.1/image -H "Content-Type: application/octet-stream" --data-binary @photo.jpg
    curl -X POST http://127.0.0.1/url -H "Content-Type: application/json" -d '{{"Url": "https://..."}}'

Routes: POST /image (the image as the body, or multipart/form-data with the file in 'imageData'), POST /url
({{"Url": ...}}), and the same under /<project>/classify/iterations/<name>/ as the prediction API's paths.
The answer is Custom Vision's ImagePrediction JSON. Without Docker: pip install -r requirements.txt, then
python app/server.py --port 8080. app/model.onnx is the ONNX export of the same iteration.
"""
# What the container installs: the versions this service was tested with (constraints.txt).
REQUIREMENTS = ("onnxruntime==1.32.0", "numpy==2.4.6", "pillow==13.0.0")
DOCKERFILE = """FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r /app/requirements.txt
COPY app /app
EXPOSE 80
USER nobody
CMD ["python", "/app/server.py", "--host", "0.0.0.0", "--port", "80"]
"""


def check_exportable(iteration: IterationRecord, platform: str, flavor: str | None) -> None:
    domain = get_domain(iteration.domain_id)
    platforms = exports_for(domain.type)  # platform -> the flavors it takes
    if platform not in platforms:
        raise errors.bad_request(f"Export to '{platform}' is not supported by this service; use platform="
                                 f"{' or '.join(platforms)}.", "BadRequestExportValidationFailed")
    if flavor not in platforms[platform]:
        # ONNX10 / ONNX12 ask for an older opset than the one model this service builds
        takes = ", ".join(repr(f) for f in platforms[platform] if f) or "none"
        raise errors.bad_request(f"Export flavor '{flavor}' is not supported for {platform}: this service exports "
                                 f"one ONNX model (opset {OPSET}, float32); flavors taken: {takes} (or leave "
                                 "flavor out).", "BadRequestExportValidationFailed")
    if not domain.exportable:
        raise errors.bad_request(f"{iteration.name} was trained on a domain that cannot be exported; use a compact "
                                 "domain.", "BadRequestExportValidationFailed")


def onnx_package(head: Head, names: list[str]) -> tuple[bytes, str, str]:
    """(model.onnx bytes, labels.txt, README.txt) of a head and its tag names."""
    from ..model.onnx_export import build_head_model  # onnx is imported only when exporting

    model = build_head_model(head, names)
    side = model.graph.input[0].type.tensor_type.shape.dim[2].dim_value
    how = (f"the whole image resized to {side}x{side}; the model crops the centre 224 itself" if side != 224 else
           "resize the short side to 256, centre-crop 224")
    readme = README.format(input=model.graph.input[0].name, output=model.graph.output[0].name, size=side, how=how)
    return model.SerializeToString(), "\n".join(names) + "\n", readme


def docker_package(iteration: IterationRecord, model: bytes, labels: str, task: str = "Classification") -> bytes:
    """The DockerFile export: Dockerfile, requirements.txt, app/ (server, model, labels, tags), README."""
    tags = {"project": iteration.project_id, "iteration": iteration.id, "type": task,
            "tags": [{"id": tag_id, "name": name} for tag_id, name in iteration.tags]}
    server = resources.files(__package__).joinpath("container", "server.py").read_text()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Dockerfile", DOCKERFILE)
        z.writestr("requirements.txt", "\n".join(REQUIREMENTS) + "\n")
        z.writestr("README.txt", DOCKER_README.format(name="customvision-" + iteration.id[:8]))
        z.writestr("app/server.py", server)
        z.writestr("app/model.onnx", model)
        z.writestr("app/labels.txt", labels)
        z.writestr("app/tags.json", json.dumps(tags, indent=1) + "\n")
    return buf.getvalue()


class Exporter:
    def __init__(self, store: Store, link_lifetime_s: float):
        self.store = store
        self.link_lifetime_s = link_lifetime_s

    def export(self, iteration: IterationRecord, platform: str, flavor: str | None) -> ExportRecord:
        """The platform's package, behind an unguessable link."""
        check_exportable(iteration, platform, flavor)
        if get_domain(iteration.domain_id).detection:
            from .detection_export import detection_onnx_package, export_layout

            model, labels, readme = detection_onnx_package(self.store.blobs.get(iteration.model_digest),
                                                           [name for _, name in iteration.tags],
                                                           export_layout(iteration.domain_id))
            task = "ObjectDetection"
        else:
            head = Head.from_bytes(self.store.blobs.get(iteration.model_digest))
            model, labels, readme = onnx_package(head, [name for _, name in iteration.tags])
            task = "Classification"
        if platform == "DockerFile":
            package = docker_package(iteration, model, labels, task)
        else:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr("model.onnx", model)
                z.writestr("labels.txt", labels)
                z.writestr("README.txt", readme)
            package = buf.getvalue()
        digest = self.store.blobs.put(package)
        return self.store.create_export(iteration.id, platform, flavor, secrets.token_urlsafe(32), digest,
                                        self.link_lifetime_s)
