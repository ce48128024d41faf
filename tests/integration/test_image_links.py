"""The signed image links (training images and stored predictions) are immutable: browsers keep what they return
(Cache-Control) and revalidate with the ETag, which is how a 5,000-image grid stays fast on its second showing."""
from __future__ import annotations

import re

import httpx
import pytest

from harness.images import photo
from harness.rest import Rest


@pytest.fixture(scope="module")
def links(cvlocal_service):
    rest = Rest(cvlocal_service)
    pid, tags, iid = rest.trained_project(per_tag=5)
    image = rest.training("GET", f"/projects/{pid}/images", params={"take": 1}).json()[0]
    kept = rest.training("POST", f"/projects/{pid}/quicktest/image", params={"iterationId": iid},
                         content=photo("blue", 900), headers={"Content-Type": "application/octet-stream"}).json()
    stored = rest.training("POST", f"/projects/{pid}/predictions/query", json={}).json()["results"]
    prediction = next(p for p in stored if p["id"] == kept["id"])
    return [image[k] for k in ("thumbnailUri", "resizedImageUri", "originalImageUri")] + \
        [prediction[k] for k in ("thumbnailUri", "resizedImageUri", "originalImageUri")]


def test_every_image_link_may_be_kept_privately_and_revalidates_with_its_etag(links):
    for url in links:
        first = httpx.get(url)
        assert first.status_code == 200 and first.content
        cache = first.headers["cache-control"]
        assert "private" in cache and re.search(r"max-age=[1-9]\d{5,}", cache) and "immutable" in cache
        again = httpx.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and not again.content
        assert httpx.get(url, headers={"If-None-Match": '"other"'}).content == first.content


def test_variants_differ_and_a_bad_signature_is_refused_before_any_cache(links):
    thumbnail, resized = httpx.get(links[0]), httpx.get(links[1])
    assert thumbnail.headers["etag"] != resized.headers["etag"]
    forged = re.sub(r"sig=\w+", "sig=" + "0" * 40, links[0])
    r = httpx.get(forged, headers={"If-None-Match": thumbnail.headers["etag"]})
    assert r.status_code == 404 and "cache-control" not in r.headers
