"""Behind a TLS-terminating reverse proxy: the scheme and host the client used, from the proxy's headers.

Download links (images' `originalImageUri`, exports' `downloadUri`) are built from the request's base URL. A
proxy that terminates TLS for `https://cv.example.com` reaches this service as `http://127.0.0.1:8400`, and
says what the client used in `X-Forwarded-Proto` and `X-Forwarded-Host`. Those headers are honoured only
from the proxies the operator trusts (`--forwarded-allow-ips`), anyone else could forge links with them:
uvicorn's own middleware takes the scheme (and `X-Forwarded-For`), this one the host.
"""
from __future__ import annotations

import re

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")  # a name or address, and a port


class ForwardedHeaders:
    def __init__(self, app, trusted: str):
        """`trusted`: the proxies' addresses or networks, comma-separated ("127.0.0.1", "10.0.0.0/8", "*")."""
        self._proxy = ProxyHeadersMiddleware(app, trusted)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self._from_trusted_proxy(scope):
            host = _forwarded_host(scope["headers"])
            if host is not None:
                scope = dict(scope)
                scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"host"] + [(b"host", host)]
        return await self._proxy(scope, receive, send)

    def _from_trusted_proxy(self, scope) -> bool:
        client = scope.get("client")
        return client is not None and client[0] in self._proxy.trusted_hosts


def _forwarded_host(headers) -> bytes | None:
    """The host the nearest proxy says the client asked for (the last value), when it is a well-formed host."""
    values = [v for k, v in headers if k == b"x-forwarded-host"]
    if not values:
        return None
    host = b",".join(values).split(b",")[-1].strip()
    return host if HOST.match(host.decode("latin-1")) else None
