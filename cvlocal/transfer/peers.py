"""The exporting services this one imports from, and fetching an export from one of them.

A token signed elsewhere names its exporter by URL (`iss`), and anyone can write a token: fetching whatever
URL a token names would let any training-key holder make this service call any address (SSRF). So the
operator names the exporters it trusts (`--import-from URL`, repeatable, or CVLOCAL_IMPORT_FROM), and an import
fetches only from those, only the two routes of an export, with no redirects. For those URLs alone the
private-address rule of the /url routes does not apply (peers are usually on a private network, and the
operator named them); every other fetch keeps cvlocal/net/fetch.py's rules unchanged.

The exporter checks the token itself (only it can: it holds the secret that signed it) and serves
    GET {iss}/blobs/project-exports/{token}                  the exported project (store/exported.py's document)
    GET {iss}/blobs/project-exports/{token}/images/{sha256}  one image's bytes, of that export only
"""
from __future__ import annotations

import json
import urllib.parse

from ..net.fetch import UrlFetcher, UrlRejected
from ..store.exported import DocumentInvalid, parse
from ..store.records import ExportedProject

MAX_DOCUMENT_BYTES = 256 * 1024 * 1024  # an exported project's document: ~250 bytes an image


class PeerRefused(Exception):
    """The exporter answered that it does not know the token (expired, its project deleted, not its own)."""


class PeerFailed(Exception):
    """The exporter could not be reached, or answered with something that is not an export."""


def normalised(url: str) -> str:
    """scheme://host[:port][/path], lowercase scheme and host, no default port, no trailing slash."""
    parts = urllib.parse.urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host or parts.query or parts.fragment or parts.username:
        raise ValueError(f"'{url}' is not an http(s) URL of a service (scheme://host[:port])")
    port = parts.port
    netloc = f"[{host}]" if ":" in host else host
    if port and port != {"http": 80, "https": 443}[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


class Peers:
    def __init__(self, urls: tuple[str, ...], timeout_s: float):
        self.urls = frozenset(normalised(u) for u in urls)
        self._fetcher = UrlFetcher(allow_private=True, timeout_s=timeout_s, max_redirects=0)

    def allows(self, issuer: str) -> bool:
        try:
            return normalised(issuer) in self.urls
        except ValueError:
            return False

    def _get(self, issuer: str, route: str, max_bytes: int) -> bytes:
        if not self.allows(issuer):  # callers ask first; this keeps any other URL out whatever they do
            raise PeerFailed(f"{issuer} is not a service this one imports from")
        try:
            return self._fetcher.fetch(normalised(issuer) + route, max_bytes)
        except UrlRejected as exc:
            if exc.status in (400, 404):
                raise PeerRefused(f"the exporting service {issuer} does not know it (expired, its project deleted, "
                                  "or not a token it made)") from None
            raise PeerFailed(f"the exporting service {issuer} could not be read: {exc}") from None

    def exported(self, issuer: str, token: str) -> ExportedProject:
        data = self._get(issuer, f"/blobs/project-exports/{urllib.parse.quote(token, safe='')}", MAX_DOCUMENT_BYTES)
        try:
            return parse(json.loads(data))
        except (ValueError, DocumentInvalid) as exc:
            raise PeerFailed(f"the exporting service {issuer} sent no exported project it can read: {exc}") from None

    def image(self, issuer: str, token: str, sha256: str, max_bytes: int) -> bytes:
        return self._get(issuer, f"/blobs/project-exports/{urllib.parse.quote(token, safe='')}/images/{sha256}",
                         max_bytes)
