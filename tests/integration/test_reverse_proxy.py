"""Behind a TLS reverse proxy: the download links a client gets (images' URIs, exports' downloadUri) name the
public https host, from X-Forwarded-Proto/-Host sent by a trusted proxy only; and docs/examples/nginx.conf,
run by a real nginx, serves the official SDK over TLS with such links."""
from __future__ import annotations

import io
import ssl
import time
import zipfile

import httpx
import numpy as np
import pytest
from azure.cognitiveservices.vision.customvision.prediction import CustomVisionPredictionClient
from azure.cognitiveservices.vision.customvision.training import CustomVisionTrainingClient
from msrest.authentication import ApiKeyCredentials
from PIL import Image

from harness.engines import EngineMissing, skip_or_fail
from harness.exports import exported
from harness.images import photo
from harness.rest import Rest

pytestmark = pytest.mark.slow
GENERAL_COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "cv.example.com"}


def _trainer(endpoint: str, key: str, verify=None) -> CustomVisionTrainingClient:
    client = CustomVisionTrainingClient(endpoint, ApiKeyCredentials(in_headers={"Training-key": key}))
    if verify is not None:
        client.config.connection.verify = verify
    return client


def _links(trainer: CustomVisionTrainingClient, project_id: str, iteration_id: str, headers: dict) -> list[str]:
    """Every kind of download link, as the SDK returns them to a client that sent `headers`."""
    created = trainer.create_images_from_data(project_id, photo("green", 1), custom_headers=headers).images[0].image
    listed = trainer.get_tagged_images(project_id, take=1, custom_headers=headers)[0]
    export = exported(trainer, project_id, iteration_id, "ONNX", custom_headers=headers)
    return [created.original_image_uri, created.thumbnail_uri, listed.resized_image_uri, export.download_uri]


@pytest.fixture(scope="module")
def exportable(cvlocal_service):
    rest = Rest(cvlocal_service)
    pid = rest.project(domain_id=GENERAL_COMPACT)
    for colour in ("red", "blue"):
        rest.upload(pid, rest.tag(pid, colour), [photo(colour, 50 + i) for i in range(5)])
    return pid, rest.train(pid)


def test_links_name_the_public_https_host_the_trusted_proxy_forwards(cvlocal_service, exportable):
    trainer = _trainer(cvlocal_service.endpoint, cvlocal_service.training_key)
    links = _links(trainer, *exportable, headers=FORWARDED)
    assert all(link.startswith("https://cv.example.com/blobs/") for link in links), links
    direct = _links(trainer, *exportable, headers={})
    assert all(link.startswith(cvlocal_service.endpoint + "/blobs/") for link in direct), direct
    # a host header that is no host (a path, spaces) is not honoured
    odd = _links(trainer, *exportable, headers={**FORWARDED, "X-Forwarded-Host": "evil.example/phish x"})
    assert all(link.startswith("https://127.0.0.1:") for link in odd), odd


def test_forwarded_headers_from_an_untrusted_address_are_ignored(fresh_service):
    fresh_service.extra_args = ["--forwarded-allow-ips", "192.0.2.10"]  # the proxy is elsewhere, not loopback
    service = fresh_service.start()
    trainer = _trainer(service.endpoint, service.training_key)
    project = trainer.create_project("untrusted forwarding")
    tag = trainer.create_tag(project.id, "red")
    image = trainer.create_images_from_data(project.id, photo("red", 3), tag_ids=[tag.id],
                                            custom_headers=FORWARDED).images[0].image
    assert image.original_image_uri.startswith(service.endpoint + "/blobs/images/")


def _noise_png(width: int, height: int) -> bytes:
    """A PNG that does not compress: random pixels."""
    pixels = np.random.default_rng(7).integers(0, 256, (height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def nginx(tmp_path, cvlocal_service):
    from harness.nginx import Nginx

    try:
        proxy = Nginx(tmp_path / "nginx", cvlocal_service.port)
    except EngineMissing as exc:
        skip_or_fail(exc)
    proxy.check()
    with proxy:
        yield proxy


def test_the_nginx_example_serves_the_sdk_over_tls_with_https_links(nginx, cvlocal_service, exportable):
    project_id, iteration_id = exportable
    trainer = _trainer(nginx.url, cvlocal_service.training_key, verify=str(nginx.ca))
    assert trainer.get_iteration(project_id, iteration_id).status == "Completed"
    links = _links(trainer, project_id, iteration_id, headers={})
    assert all(link.startswith(nginx.url + "/blobs/") for link in links), links
    with httpx.Client(verify=ssl.create_default_context(cafile=str(nginx.ca))) as https:
        assert https.get(links[0]).content[:2] == b"\xff\xd8"  # the JPEG itself, through the proxy
        with zipfile.ZipFile(io.BytesIO(https.get(links[-1]).content)) as package:
            assert "model.onnx" in package.namelist()
        assert https.get(nginx.url + "/ready").json()["status"] == "ready"
    # a full-size upload passes the proxy's body limit (nginx's default of 1 MB would refuse it)
    big = _noise_png(1100, 900)
    assert len(big) > 2_000_000
    started = time.monotonic()
    result = trainer.create_images_from_data(project_id, big)
    assert result.is_batch_successful, [i.status for i in result.images]
    assert time.monotonic() - started < 120
    publish = trainer.publish_iteration(project_id, iteration_id, f"tls{time.time_ns()}",
                                        cvlocal_service.prediction_resource_id)
    assert publish is True
    predictor = CustomVisionPredictionClient(
        nginx.url, ApiKeyCredentials(in_headers={"Prediction-key": cvlocal_service.prediction_key}))
    predictor.config.connection.verify = str(nginx.ca)
    name = trainer.get_iteration(project_id, iteration_id).publish_name
    assert predictor.classify_image(project_id, name, photo("red", 8)).predictions[0].tag_name == "red"
