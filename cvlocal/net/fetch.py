"""Fetching images by URL for the `/url` routes, safely.

- http and https only; at most 3 redirects, each one checked like the first URL;
- one deadline for the whole fetch (connect, headers, body, redirects), so a slow or silent server cannot hold
  a worker longer than `timeout_s`;
- at most `max_bytes` read;
- no private, loopback, link-local or reserved addresses unless the operator allows them
  (`--allow-private-urls`). The host is resolved once and the connection goes to the address that was
  checked, so a name that resolves to a public address for the check and to a private one for the connection
  (DNS rebinding) cannot get through.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
import urllib.parse
from typing import Callable

MAX_REDIRECTS = 3
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
CHUNK = 64 * 1024


class UrlRejected(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status the server answered with, when it answered with an error


def resolve(host: str, port: int) -> list[str]:
    """Every IP address `host` resolves to (literals resolve to themselves)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
    return (mapped or ip).is_global and not (mapped or ip).is_multicast


class _Target:
    def __init__(self, url: str, scheme: str, host: str, port: int, path: str, addresses: list[str]):
        self.url, self.scheme, self.host, self.port, self.path = url, scheme, host, port, path
        self.addresses = addresses  # checked: the connection goes to one of these, never to a fresh lookup


class UrlFetcher:
    def __init__(self, allow_private: bool, timeout_s: float, resolver: Callable[[str, int], list[str]] = resolve,
                 max_redirects: int = MAX_REDIRECTS):
        self.allow_private = allow_private
        self.timeout_s = timeout_s
        self.resolver = resolver
        self.max_redirects = max_redirects
        self._tls = ssl.create_default_context()

    # ---- what may be fetched
    def target(self, url: str) -> _Target:
        """The checked scheme, host, port and the addresses to connect to; UrlRejected if not allowed."""
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError:
            raise UrlRejected("The image URL is not a valid URL.") from None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise UrlRejected("Only http and https image URLs can be fetched.")
        host = parts.hostname
        port = port or (443 if scheme == "https" else 80)
        try:
            addresses = self.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise UrlRejected(f"The host '{host}' could not be resolved: {exc}") from None
        if not addresses:
            raise UrlRejected(f"The host '{host}' could not be resolved.")
        if not self.allow_private:
            for address in addresses:
                try:
                    public = is_public(address)
                except ValueError:
                    public = False
                if not public:
                    raise UrlRejected(f"The host '{host}' is a private, loopback or reserved address; the service "
                                      "refuses those unless started with --allow-private-urls.")
        path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        return _Target(url, scheme, host, port, path, addresses)

    # ---- fetching
    def fetch(self, url: str, max_bytes: int) -> bytes:
        deadline = time.monotonic() + self.timeout_s
        for _ in range(self.max_redirects + 1):
            target = self.target(url)
            status, location, body = self._get(target, max_bytes, deadline)
            if status in REDIRECT_STATUSES:
                if not location:
                    raise UrlRejected(f"The image URL answered HTTP {status} without a Location.")
                url = urllib.parse.urljoin(url, location)
                continue
            if not 200 <= status < 300:
                raise UrlRejected(f"The image URL answered HTTP {status}.", status)
            return body
        raise UrlRejected(f"More than {self.max_redirects} redirects.")

    def open_socket(self, address: str, port: int, timeout: float) -> socket.socket:
        """A TCP connection to the checked address (tests replace this to see where a fetch connects)."""
        return socket.create_connection((address, port), timeout=timeout)

    def _get(self, target: _Target, max_bytes: int, deadline: float) -> tuple[int, str | None, bytes]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UrlRejected(f"The image URL did not answer within {self.timeout_s:g} s.")
        connection = _PinnedConnection(self, target, remaining)
        # The socket timeout bounds each read; this watchdog bounds them all together (a server that sends a
        # byte a second would otherwise never time out).
        watchdog = threading.Timer(remaining, connection.abort)
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.putrequest("GET", target.path, skip_accept_encoding=True)
            connection.putheader("User-Agent", "cvlocal/1.0")
            connection.putheader("Accept", "image/*")
            connection.endheaders()
            response = connection.getresponse()
            if response.status in REDIRECT_STATUSES:
                return response.status, response.getheader("Location"), b""
            if not 200 <= response.status < 300:
                return response.status, None, b""
            declared = response.getheader("Content-Length")
            if declared and declared.strip().isdigit() and int(declared) > max_bytes:
                raise UrlRejected(f"The image at the URL is larger than {max_bytes:,} bytes.")
            body = bytearray()
            while True:
                chunk = response.read1(CHUNK)
                if not chunk:
                    break
                body += chunk
                if len(body) > max_bytes:
                    raise UrlRejected(f"The image at the URL is larger than {max_bytes:,} bytes.")
                if time.monotonic() > deadline:
                    raise TimeoutError
            if connection.aborted:
                raise TimeoutError
            if declared and declared.strip().isdigit() and len(body) != int(declared):
                raise UrlRejected(f"The image URL sent {len(body):,} of the {int(declared):,} bytes it announced.")
            return response.status, None, bytes(body)
        except UrlRejected:
            raise
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if connection.aborted or isinstance(exc, TimeoutError) or time.monotonic() >= deadline:
                raise UrlRejected(f"The image URL did not answer within {self.timeout_s:g} s.") from None
            raise UrlRejected(f"The image URL could not be fetched: {_reason(exc)}") from None
        finally:
            watchdog.cancel()
            connection.close()


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to the address that was checked; Host header and TLS name are the URL's host."""

    def __init__(self, fetcher: UrlFetcher, target: _Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._fetcher, self._target = fetcher, target
        self.aborted = False
        self._lock = threading.Lock()

    def connect(self) -> None:
        error: OSError = OSError("no address to connect to")
        for address in self._target.addresses:
            try:
                sock = self._fetcher.open_socket(address, self._target.port, self.timeout)
                break
            except OSError as exc:
                error = exc
        else:
            raise error
        if self._target.scheme == "https":
            sock = self._fetcher._tls.wrap_socket(sock, server_hostname=self._target.host)
        with self._lock:
            self.sock = sock
            if self.aborted:
                sock.close()
                raise TimeoutError

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            if self.sock is not None:
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
