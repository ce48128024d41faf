"""Fetching images by URL for the `/url` routes: http(s) only, size cap, timeouts, few redirects, and no
private or loopback addresses unless the operator allows them (`--allow-private-urls`)."""
from __future__ import annotations

import ipaddress
import socket
import urllib.error
import urllib.parse
import urllib.request

MAX_REDIRECTS = 3


class UrlRejected(Exception):
    pass


class _LimitedRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, fetcher: "UrlFetcher"):
        self.fetcher = fetcher

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        count = getattr(req, "redirect_count", 0) + 1
        if count > MAX_REDIRECTS:
            raise UrlRejected(f"More than {MAX_REDIRECTS} redirects.")
        self.fetcher.check_url(newurl)
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            new.redirect_count = count
        return new


class UrlFetcher:
    def __init__(self, allow_private: bool, timeout_s: float):
        self.allow_private = allow_private
        self.timeout_s = timeout_s
        self._opener = urllib.request.build_opener(_LimitedRedirects(self))

    def check_url(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise UrlRejected("Only http and https image URLs can be fetched.")
        if self.allow_private:
            return
        try:
            infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
        except OSError as exc:
            raise UrlRejected(f"The host '{parts.hostname}' could not be resolved: {exc}")
        for info in infos:
            address = ipaddress.ip_address(info[4][0].split("%")[0])
            if not address.is_global:
                raise UrlRejected(f"The host '{parts.hostname}' is a private, loopback or reserved address; "
                                  "the service refuses those unless started with --allow-private-urls.")

    def fetch(self, url: str, max_bytes: int) -> bytes:
        self.check_url(url)
        request = urllib.request.Request(url, headers={"User-Agent": "cvlocal/1.0"})
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                data = response.read(max_bytes + 1)
        except UrlRejected:
            raise
        except urllib.error.HTTPError as exc:
            raise UrlRejected(f"The image URL answered HTTP {exc.code}.")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise UrlRejected(f"The image URL could not be fetched: {getattr(exc, 'reason', exc)}")
        if len(data) > max_bytes:
            raise UrlRejected(f"The image at the URL is larger than {max_bytes:,} bytes.")
        return data
