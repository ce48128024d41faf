"""The web portal: static pages and plain ES modules, served by the service itself under /portal/.

The portal is one more client of the Custom Vision REST API (same routes, same keys as the SDK); this module
only serves its files. Every answer revalidates (ETag / Last-Modified make it a 304), so an upgraded service is
picked up at once, and carries a strict Content-Security-Policy: scripts and styles from this folder only, so
even a mistake in escaping cannot run injected script.
"""
from __future__ import annotations

from pathlib import Path

from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
MOUNT_PATH = "/portal"
HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
                                "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
                                "frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class PortalFiles(StaticFiles):
    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.headers.update(HEADERS)
        return response


def mount_portal(app) -> None:
    """Serve the portal at /portal/ (index.html for the folder itself)."""
    app.mount(MOUNT_PATH, PortalFiles(directory=STATIC_DIR, html=True), name="portal")


def wants_portal(accept: str | None) -> bool:
    """A browser asking for `/` gets the portal; API clients (Accept: application/json) keep the JSON root."""
    return "text/html" in (accept or "")
