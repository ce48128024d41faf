"""`cvops classify` on an object detection project: each image's objects from the published iteration
(`detect_image`), with their boxes in the image's pixels (as displayed, EXIF orientation applied), and with
`--draw DIR` a copy of each image with its boxes and labels drawn (Pillow), so a user can look instead of read.
Objects under the probability threshold (`--threshold`, default evaluation.threshold) are left out."""
from __future__ import annotations

import io
import urllib.request
from pathlib import Path
from typing import Any

from pipeline.sdk import images as sdk_images

PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#fabed4",
           "#469990", "#9a6324", "#800000", "#808000", "#000075"]
MAX_FETCH_BYTES = 6 * 1024 * 1024


def detect(predictor: Any, project_id: str, published_name: str, image: str, data: bytes | None) -> Any:
    """The published iteration's objects in a URL (fetched by the service) or in the bytes of a file."""
    if data is None:
        return predictor.detect_image_url(project_id, published_name, image)
    return predictor.detect_image(project_id, published_name, data)


def objects(image: str, prediction: Any, original: bytes | None, threshold: float, note: str | None) -> dict:
    """The image's result: its size (None for a URL not fetched) and its objects at >= threshold."""
    size = displayed_size(original) if original is not None else None
    found = [p for p in sdk_images.ranked(prediction) if (p.probability or 0.0) >= threshold]
    below = len(prediction.predictions or []) - len(found)
    return {"image": image, "size": list(size) if size else None, "threshold": threshold, "below_threshold": below,
            "resized": note, "objects": [_object(p, size) for p in found]}


def _object(prediction: Any, size: tuple[int, int] | None) -> dict:
    box = prediction.bounding_box
    normalised = {"left": box.left, "top": box.top, "width": box.width, "height": box.height}
    pixels = None
    if size is not None:
        w, h = size
        pixels = {"left": round(box.left * w), "top": round(box.top * h), "width": round(box.width * w),
                  "height": round(box.height * h)}
    return {"tag": prediction.tag_name, "probability": prediction.probability, "box": pixels,
            "normalised": normalised}


def displayed_size(data: bytes) -> tuple[int, int]:
    """The image's size as shown (EXIF orientation applied), read from its header."""
    from PIL import Image
    with Image.open(io.BytesIO(data)) as img:
        orientation = img.getexif().get(0x0112, 1)
        w, h = img.size
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def fetch(url: str) -> bytes:
    """A URL's image, for drawing (the service fetched it to detect)."""
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - http(s) only (is_url)
        data = response.read(MAX_FETCH_BYTES + 1)
    if len(data) > MAX_FETCH_BYTES:
        raise ValueError(f"over {MAX_FETCH_BYTES // 2**20} MB")
    return data


def draw(original: bytes, result: dict, folder: Path, taken: set[str]) -> Path:
    """Write the image with its objects' boxes and labels into `folder`; returns the file written."""
    from PIL import Image, ImageDraw, ImageFont, ImageOps

    with Image.open(io.BytesIO(original)) as opened:
        picture = ImageOps.exif_transpose(opened).convert("RGB")
    w, h = picture.size
    pen = ImageDraw.Draw(picture)
    width = max(2, round(min(w, h) / 200))
    font = ImageFont.load_default(size=max(12, round(min(w, h) / 30)))
    tags = sorted({o["tag"] for o in result["objects"]})
    for found in reversed(result["objects"]):  # the most probable drawn last, on top
        colour = PALETTE[tags.index(found["tag"]) % len(PALETTE)]
        n = found["normalised"]
        x1, y1 = n["left"] * w, n["top"] * h
        x2, y2 = x1 + n["width"] * w, y1 + n["height"] * h
        pen.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        label = f"{found['tag']} {found['probability']:.0%}"
        left, top, right, bottom = pen.textbbox((0, 0), label, font=font)
        ty = y1 - (bottom - top) - 2 * width if y1 - (bottom - top) - 2 * width >= 0 else y1
        pen.rectangle((x1, ty, x1 + right - left + 2 * width, ty + bottom - top + 2 * width), fill=colour)
        pen.text((x1 + width - left, ty + width - top), label, fill="white", font=font)
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(result["image"].rstrip("/").split("?")[0]).stem or "image"
    name, n = f"{stem}.jpg", 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}.jpg"
    taken.add(name)
    picture.save(folder / name, "JPEG", quality=90)
    return folder / name
