"""Small images made at run time, for tests that must run anywhere."""
from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

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


Box = tuple[float, float, float, float]


def scene(colour: str, seed: int, size: tuple[int, int] = (160, 120)) -> tuple[bytes, Box]:
    """A grey, noisy picture with one block of `colour` somewhere on it: (JPEG bytes, the block's box as Custom
    Vision takes a region: left, top, width, height normalised to the image). Different for every seed."""
    rng = random.Random(f"scene-{colour}-{seed}")
    img = Image.new("RGB", size, (128, 128, 128))
    draw = ImageDraw.Draw(img)
    for _ in range(20):  # clutter that is no object
        x, y, r = rng.randrange(size[0]), rng.randrange(size[1]), rng.randint(2, 8)
        grey = rng.randint(80, 180)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(grey, grey, grey))
    w, h = rng.randint(size[0] // 4, size[0] // 2), rng.randint(size[1] // 4, size[1] // 2)
    x, y = rng.randrange(size[0] - w), rng.randrange(size[1] - h)
    base = COLOURS[colour]
    draw.rectangle((x, y, x + w - 1, y + h - 1), fill=tuple(max(0, min(255, c + rng.randint(-20, 20))) for c in base))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue(), (x / size[0], y / size[1], w / size[0], h / size[1])


def decompression_bomb() -> bytes:
    """A tiny PNG that claims 20,000 x 20,000 pixels."""
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG", optimize=True)
    return out.getvalue()


def _otsu(values: np.ndarray) -> float:
    hist, edges = np.histogram(values, 256, (0, 256))
    p = hist / hist.sum()
    omega, mu = np.cumsum(p), np.cumsum(p * np.arange(256))
    between = (mu[-1] * omega - mu) ** 2 / (omega * (1 - omega) + 1e-12)
    return float(edges[int(np.argmax(between))])


def on_dark_grey(data: bytes) -> bytes:
    """The Custom Vision quickstart's kind of test photo made from a photo of a dark subject against a bright
    sky (its hemlock photos): the subject kept, everything else dark grey, cropped to the subject."""
    img = Image.open(io.BytesIO(data)).convert("RGB")
    img.thumbnail((800, 800))
    rgb = np.asarray(img, np.float32)
    lum = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    mask = Image.fromarray((lum < _otsu(lum)).astype(np.uint8) * 255)
    for f in (ImageFilter.MaxFilter(5), ImageFilter.MinFilter(5), ImageFilter.MinFilter(5), ImageFilter.MaxFilter(5)):
        mask = mask.filter(f)  # close the gaps between needles, then drop specks
    keep = np.asarray(mask, np.float32)[..., None] / 255
    h = rgb.shape[0]
    grey = 62 + 14 * np.linspace(-1, 1, h, dtype=np.float32)[:, None, None]
    out = Image.fromarray(np.clip(rgb * keep + grey * (1 - keep), 0, 255).astype(np.uint8))
    rows, cols = np.flatnonzero(keep[..., 0].any(1)), np.flatnonzero(keep[..., 0].any(0))
    out = out.crop((cols[0], rows[0], cols[-1] + 1, rows[-1] + 1))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=90)
    return buf.getvalue()
