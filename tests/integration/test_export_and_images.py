"""Export to ONNX, and the image operations a pipeline leans on (urls, untagged, metadata, delete)."""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from harness.files import serve_files
from harness.images import photo
from harness.rest import Rest
from harness import onnx_session

GENERAL_COMPACT = "0732100f-1a38-4e49-a514-c9b44c697ab5"


@pytest.fixture(scope="module")
def rest(cvlocal_service):
    return Rest(cvlocal_service)


def _model_input(data: bytes, side: int) -> np.ndarray:
    """What the export's README asks for: the whole image resized to the input's side, RGB 0..255, NCHW float."""
    img = Image.open(io.BytesIO(data)).convert("RGB").resize((side, side))
    return np.asarray(img, np.float32).transpose(2, 0, 1)[None]


def test_onnx_export_gives_the_services_answer(rest):
    pid = rest.project(domain_id=GENERAL_COMPACT)
    tags = {c: rest.tag(pid, c) for c in ("red", "blue", "green")}
    for c, tag in tags.items():
        rest.upload(pid, tag, [photo(c, i) for i in range(6)])
    iid = rest.train(pid)
    exports = [rest.export(pid, iid, "ONNX")]  # Exporting, then Done: built in the background, as Azure's
    assert exports[0]["status"] == "Done" and exports[0]["platform"] == "ONNX"
    download = rest.http.get(exports[0]["downloadUri"])  # no key: the link itself is the credential
    assert download.status_code == 200
    with zipfile.ZipFile(io.BytesIO(download.content)) as z:
        labels = z.read("labels.txt").decode().split()
        session = onnx_session.session(z.read("model.onnx"))
    assert sorted(labels) == ["blue", "green", "red"]
    assert json.loads(session.get_modelmeta().custom_metadata_map["labels"]) == labels
    (tensor,) = session.get_inputs()
    for colour in ("red", "blue", "green"):
        data = photo(colour, 321)
        probabilities = session.run(None, {tensor.name: _model_input(data, tensor.shape[2])})[0][0]
        served = rest.training("POST", f"/projects/{pid}/quicktest/image", params={"iterationId": iid},
                               content=data, headers={"Content-Type": "application/octet-stream"}).json()
        # The export computes the service's answer (the same pixels: the image resized whole, as the service does).
        by_tag = {p["tagName"]: p["probability"] for p in served["predictions"]}
        np.testing.assert_allclose(probabilities, [by_tag[t] for t in labels], atol=1e-5)
        assert labels[int(np.argmax(probabilities))] == served["predictions"][0]["tagName"]
    forged = exports[0]["downloadUri"].rsplit("/", 2)
    assert rest.http.get(f"{forged[0]}/not-a-token/{forged[2]}").status_code == 404


def test_export_of_a_non_compact_domain_or_other_platform_is_refused(rest):
    pid, _, iid = rest.trained_project()
    r = rest.training("POST", f"/projects/{pid}/iterations/{iid}/export", params={"platform": "ONNX"})
    assert r.status_code == 400 and r.json()["code"] == "BadRequestExportValidationFailed"
    r = rest.training("POST", f"/projects/{pid}/iterations/{iid}/export", params={"platform": "CoreML"})
    assert r.status_code == 400


def test_images_from_urls_untagged_listing_metadata_and_delete(rest, cvlocal_service):
    with serve_files({f"/{i}.jpg": photo("green", i) for i in range(3)}) as server:
        pid = rest.project()
        urls = [server.url(f"/{i}.jpg") for i in range(3)] + [server.url("/missing.jpg"), "file:///etc/passwd"]
        r = rest.training("POST", f"/projects/{pid}/images/urls", json={"images": [{"url": u} for u in urls],
                                                                       "metadata": {"source": "web"}})
        assert r.status_code == 207
        assert [i["status"] for i in r.json()["images"]] == ["OK", "OK", "OK", "ErrorSource", "ErrorSource"]
    untagged = rest.training("GET", f"/projects/{pid}/images/untagged").json()
    assert len(untagged) == 3 and all(i["metadata"] == {"source": "web"} for i in untagged)
    ids = [i["id"] for i in untagged]
    r = rest.training("POST", f"/projects/{pid}/images/metadata", params={"imageIds": ids[0]},
                      json={"cvops.sha256": "abc"})
    assert r.status_code == 200 and r.json()["images"][0]["metadata"] == {"source": "web", "cvops.sha256": "abc"}
    assert rest.training("DELETE", f"/projects/{pid}/images", params={"imageIds": ",".join(ids[:2])}).status_code == 204
    assert rest.training("GET", f"/projects/{pid}/images/count").json() == 1


def test_url_routes_refuse_loopback_unless_allowed(fresh_service):
    service = fresh_service.start()  # started without --allow-private-urls
    rest = Rest(service)
    pid = rest.project()
    r = rest.training("POST", f"/projects/{pid}/images/urls",
                      json={"images": [{"url": f"{service.endpoint}/customvision/v3.4-preview/training/domains"}]})
    assert r.status_code == 207
    assert r.json()["images"][0]["status"] == "ErrorSource"
    assert "private" in r.json()["images"][0]["message"]
