"""An image's original bytes from the `original_image_uri` the service lists: a signed link (a SAS URL on Azure),
so no key is sent with it. urllib3 retries dropped connections, 429, 408 and 5xx (honouring Retry-After); a body
shorter than its Content-Length, or one whose Content-MD5 does not match, is refused rather than kept. Messages
name the image, never the link (its signature is a credential)."""
from __future__ import annotations

import base64
import hashlib
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Iterator
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

TIMEOUT_S = (15, 120)  # connect, read
ATTEMPTS = 8


class DownloadFailed(Exception):
    """The bytes of one image could not be fetched (after retries); the message says why, without the URL."""


def session(workers: int) -> requests.Session:
    retry = Retry(total=ATTEMPTS, connect=ATTEMPTS, read=ATTEMPTS, status=ATTEMPTS, other=ATTEMPTS,
                  backoff_factor=0.5, backoff_max=30, backoff_jitter=0.5,
                  status_forcelist=(408, 429, 500, 502, 503, 504), allowed_methods=frozenset({"GET"}),
                  respect_retry_after_header=True, raise_on_status=False)
    http = requests.Session()
    http.trust_env = True  # proxies from the environment, as the SDK's own session
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=max(workers, 4))
    http.mount("https://", adapter)
    http.mount("http://", adapter)
    return http


def fetch(http: requests.Session, url: str | None) -> bytes:
    if not url:
        raise DownloadFailed("the service lists no original image URI")
    host = urlsplit(url).netloc
    try:
        response = http.get(url, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        raise DownloadFailed(f"cannot download from {host}: {type(exc).__name__}") from None
    with response:
        if response.status_code != 200:
            raise DownloadFailed(f"{host} answered HTTP {response.status_code}"
                                 + (" (the signed link expired?)" if response.status_code in (403, 404) else ""))
        data = response.content
        expected = response.headers.get("Content-Length")
        if expected is not None and expected.isdigit() and int(expected) != len(data) and \
                not response.headers.get("Content-Encoding"):
            raise DownloadFailed(f"{host} sent {len(data)} of {expected} bytes")
        md5 = response.headers.get("Content-MD5")
        if md5 and base64.b64encode(hashlib.md5(data).digest()).decode() != md5:
            raise DownloadFailed(f"{host} sent bytes whose MD5 is not the Content-MD5 it named")
        return data


def fetch_many(images: list[Any], workers: int = 8, chunk: int = 256) -> Iterator[tuple[Any, bytes | DownloadFailed]]:
    """(image, its original bytes or why they could not be fetched) for each image, as downloads finish; a
    chunk at a time, so memory holds at most `chunk` images whatever the project's size."""
    http = session(workers)
    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(images), chunk):
            futures = {pool.submit(_fetch_or_failure, http, image.original_image_uri): image
                       for image in images[start:start + chunk]}
            for future in as_completed(futures):
                yield futures.pop(future), future.result()


def _fetch_or_failure(http: requests.Session, url: str | None) -> bytes | DownloadFailed:
    try:
        return fetch(http, url)
    except DownloadFailed as exc:
        return exc
