"""The DockerFile platform: the iteration's ONNX model in a container that answers Custom Vision's prediction
JSON on `/image` and `/url`, as Azure's exported container does (the server: training/container/server.py).

Flavors: `Linux` (also no flavor) builds on `python:3.11-slim` for the machine it is built on; `ARM` is the same
package for 64-bit ARM (`--platform=linux/arm64`: Raspberry Pi 3/4/5 with a 64-bit OS, Jetson, Graviton...).
Azure's ARM flavor targeted the Raspberry Pi 3's 32-bit ARM; the requirements here (the versions this service is
tested with) have wheels on PyPI for 64-bit ARM (manylinux aarch64) and none for 32-bit ARM (onnxruntime
publishes no armv7 wheel), so 64-bit is the ARM this package builds for. Nothing else differs.
"""
from __future__ import annotations

import json
from importlib import resources

README = """Exported by cvlocal (self-hosted Custom Vision): this iteration's model in a container that answers
as Custom Vision's prediction API does.

    docker build -t {name} .{build_note}
    docker run -p 127.0.0.1:80:80 -d {name}
    curl -X POST http://127.0.0.1/image -H "Content-Type: application/octet-stream" --data-binary @photo.jpg
    curl -X POST http://127.0.0.1/url -H "Content-Type: application/json" -d '{{"Url": "https://..."}}'

Routes: POST /image (the image as the body, or multipart/form-data with the file in 'imageData'), POST /url
({{"Url": ...}}), and the same under /<project>/classify/iterations/<name>/ as the prediction API's paths.
The answer is Custom Vision's ImagePrediction JSON. Without Docker: pip install -r requirements.txt, then
python app/server.py --port 8080. app/model.onnx is the ONNX export of the same iteration.
"""
ARM_NOTE = ("\n    (on an x86 machine: docker buildx build --platform linux/arm64 -t {name} --load .; the image runs on"
            " 64-bit ARM)")
# What the container installs: the versions this service is tested with (constraints.txt); each has wheels for
# linux x86-64 and linux aarch64 on PyPI.
REQUIREMENTS = ("onnxruntime==1.32.0", "numpy==2.4.6", "pillow==13.0.0")
BASE_IMAGE = {"Linux": "python:3.11-slim", "ARM": "--platform=linux/arm64 python:3.11-slim"}
DOCKERFILE = """FROM {base}
WORKDIR /app
COPY requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r /app/requirements.txt
COPY app /app
EXPOSE 80
USER nobody
CMD ["python", "/app/server.py", "--host", "0.0.0.0", "--port", "80"]
"""


def docker_files(flavor: str | None, model_onnx: bytes, labels: str, project_id: str, iteration_id: str,
                 tags: list[tuple[str, str]], task: str = "Classification") -> dict[str, bytes]:
    """{path in the package: bytes}: Dockerfile, requirements.txt, README.txt, app/ (server, model, labels,
    tags)."""
    flavor = flavor or "Linux"
    name = "customvision-" + iteration_id[:8]
    about = {"project": project_id, "iteration": iteration_id, "type": task,
             "tags": [{"id": tag_id, "name": tag_name} for tag_id, tag_name in tags]}
    server = resources.files("cvlocal.training").joinpath("container", "server.py").read_bytes()
    note = ARM_NOTE.format(name=name) if flavor == "ARM" else ""
    return {"Dockerfile": DOCKERFILE.format(base=BASE_IMAGE[flavor]).encode(),
            "requirements.txt": ("\n".join(REQUIREMENTS) + "\n").encode(),
            "README.txt": README.format(name=name, build_note=note).encode(),
            "app/server.py": server, "app/model.onnx": model_onnx, "app/labels.txt": labels.encode(),
            "app/tags.json": (json.dumps(about, indent=1) + "\n").encode()}
