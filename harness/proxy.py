"""Reverse proxies on loopback: what they share (a threaded HTTP server that reads each request, hands it to
`exchange` and writes the answer back), and `Balancer`, which stands in front of replicas as a load balancer:
each request goes to the next replica in turn (round robin). A replica that refuses the connection (it is down)
is skipped for the next one, which is safe for any request since none of it was sent; a replica that fails
after taking the request is answered 502, as nginx answers, and the client decides (the request may have been
served). counting_proxy.py is the other kind: one server, every request counted."""
from __future__ import annotations

import http.client
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
              "trailer", "trailers", "transfer-encoding", "upgrade", "content-length"}
Answer = tuple[int, list[tuple[str, str]], bytes]  # status, headers, body


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port or 80


class LoopbackProxy:
    """Subclasses say how a request is answered (`exchange`); `with proxy:` serves on `proxy.endpoint`."""

    def __init__(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's session expects

            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                if body is not None:
                    headers["Content-Length"] = str(len(body))
                status, reply_headers, data = proxy.exchange(self, headers, body)
                self.send_response_only(status)
                for name, value in reply_headers:
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = forward

            def log_message(self, *args) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def exchange(self, request: BaseHTTPRequestHandler, headers: dict[str, str], body: bytes | None) -> Answer:
        """The answer to `request` (its `command` and `path`; its headers and body as given)."""
        raise NotImplementedError

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


class Balancer(LoopbackProxy):
    """Round robin over `targets`, a new upstream connection for each request (so a request is never sent
    twice); `answered_by[n]`: how many requests target n answered."""

    def __init__(self, targets: list[str], timeout_s: float = 300):
        super().__init__()
        self.targets = [address(t) for t in targets]
        self.timeout_s = timeout_s
        self.answered_by = {n: 0 for n in range(len(self.targets))}
        self._turns = itertools.cycle(range(len(self.targets)))
        self._lock = threading.Lock()

    def exchange(self, request, headers, body) -> Answer:
        for _ in self.targets:
            with self._lock:
                turn = next(self._turns)
            upstream = http.client.HTTPConnection(*self.targets[turn], timeout=self.timeout_s)
            try:
                try:
                    upstream.connect()
                except ConnectionRefusedError:
                    continue  # that replica is down: the next one takes the request
                try:
                    upstream.request(request.command, request.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    answer = response.status, response.getheaders(), response.read()
                except (OSError, http.client.HTTPException) as exc:
                    return _bad_gateway(f"the replica stopped answering: {type(exc).__name__}")
                with self._lock:
                    self.answered_by[turn] += 1
                return answer
            finally:
                upstream.close()
        return _bad_gateway("no replica is up")


def _bad_gateway(message: str) -> Answer:
    return 502, [("Content-Type", "application/json")], json.dumps({"code": "BadGateway", "message": message}).encode()
