"""Resized copies of stored images (the `resized` and `thumbnail` links), made once and kept in memory.

A grid of training images asks for 60 thumbnails at once, and decoding a camera photo to scale it costs
milliseconds each; the same thumbnails are asked for again by every browser that opens the project (each
browser then keeps them itself: the links are immutable, see downloads.py). The cache is bounded by bytes and
forgets the least recently used first; a thumbnail is a few kilobytes, so thousands fit.
"""
from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable

from PIL import Image, ImageOps

from ..net.images import OPEN_FORMATS

CACHE_BYTES = 64 * 1024 * 1024


def scaled(data: bytes, longest: int) -> bytes:
    """A JPEG whose longest side is at most `longest` pixels (EXIF orientation applied)."""
    with Image.open(io.BytesIO(data), formats=OPEN_FORMATS) as img:
        img.draft("RGB", (longest, longest))
        img = ImageOps.exif_transpose(img).convert("RGB")
        img.thumbnail((longest, longest))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=90)
        return out.getvalue()


class ScaledImages:
    def __init__(self, limit_bytes: int = CACHE_BYTES):
        self._limit = limit_bytes
        self._kept: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, digest: str, longest: int, load: Callable[[], bytes]) -> bytes:
        """The resized copy of blob `digest`; `load()` gives the original bytes when it must be made."""
        key = (digest, longest)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                self._kept.move_to_end(key)
                return kept
        made = scaled(load(), longest)
        with self._lock:
            if key not in self._kept and len(made) <= self._limit:
                self._kept[key] = made
                self._size += len(made)
                while self._size > self._limit:
                    _, dropped = self._kept.popitem(last=False)
                    self._size -= len(dropped)
        return made
