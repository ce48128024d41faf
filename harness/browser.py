"""Chromium for the portal's browser tests and its bench: Debian's `chromium` (apt-get install chromium), or the
Chromium-based executable CVOPS_CHROMIUM names. Playwright drives it and never downloads a browser."""
from __future__ import annotations

import os
import shutil

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    """CVOPS_CHROMIUM when set (and only it), else Debian's chromium."""
    chosen = os.environ.get("CVOPS_CHROMIUM")
    candidates = [chosen] if chosen else [shutil.which("chromium"), "/usr/bin/chromium"]
    return next((c for c in candidates if c and os.path.isfile(c) and os.access(c, os.X_OK)), None)
