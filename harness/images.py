"""Small images made at run time, for tests that must run anywhere."""
from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw

COLOURS = {"red": (200, 30, 30), "blue": (30, 60, 200), "green": (30, 170, 60), "yellow": (230, 210, 40)}


def photo(colour: str, seed: int, size: tuple[int, int] = (96, 72), fmt: str = "JPEG") -> bytes:
    """A noisy picture dominated by one colour, different for every seed (so never a duplicate)."""
    rng = random.Random(f"{colour}-{seed}")
    base = COLOURS[colour]
    img = Image.new("RGB", size, tuple(max(0, min(255, c + rng.randint(-25, 25))) for c in base))
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        r = rng.randint(3, 12)
        shade = tuple(max(0, min(255, c + rng.randint(-60, 60))) for c in base)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=shade)
    out = io.BytesIO()
    img.save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def decompression_bomb() -> bytes:
    """A tiny PNG that claims 20,000 x 20,000 pixels."""
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG", optimize=True)
    return out.getvalue()
