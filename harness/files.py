"""A loopback HTTP server of fixed files, standing in for a public image or archive URL."""
from __future__ import annotations

import http.server
import threading
from contextlib import contextmanager
from typing import Iterator


class Files:
    """What the server serves (`files[path] = bytes`) and how often each path was asked for."""

    def __init__(self, base: str, files: dict[str, bytes]):
        self.base = base
        self.files = files
        self.hits: dict[str, int] = {}

    def url(self, path: str) -> str:
        return self.base + path


@contextmanager
def serve_files(files: dict[str, bytes] | None = None) -> Iterator[Files]:
    served = Files("", dict(files or {}))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            served.hits[self.path] = served.hits.get(self.path, 0) + 1
            body = served.files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
