"""Checking uploaded image bytes against Custom Vision's limits before anything is stored."""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

FORMATS = {"JPEG", "PNG", "BMP", "GIF"}
MAX_SIDE = 10240
MAX_ASPECT_RATIO = 25.0
# Pillow refuses to decode more pixels than this (decompression bombs); a 10,240 px square is the most a
# real upload can have.
Image.MAX_IMAGE_PIXELS = MAX_SIDE * MAX_SIDE
_ROTATED = {5, 6, 7, 8}  # EXIF orientations that swap width and height


class ImageRejected(Exception):
    """An image this service will not take; `status` is Custom Vision's per-image upload status."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class CheckedImage:
    width: int
    height: int
    format: str


def check_image(data: bytes, max_bytes: int) -> CheckedImage:
    """Decode enough of the image to be sure it is whole and within limits; raise ImageRejected if not."""
    if not data:
        raise ImageRejected("ErrorImageFormat", "The image is empty.")
    if len(data) > max_bytes:
        raise ImageRejected("ErrorImageSize", f"The image is {len(data):,} bytes; the limit is {max_bytes:,} bytes.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.format not in FORMATS:
                    raise ImageRejected("ErrorImageFormat", f"Unsupported image format {img.format}; "
                                        "use JPEG, PNG, BMP or GIF.")
                width, height = img.size
                _check_dimensions(width, height)
                orientation = img.getexif().get(0x0112, 1) if img.format == "JPEG" else 1
                img.draft("RGB", (256, 256))  # JPEG: decode at reduced scale, still reads the whole stream
                img.load()
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("ErrorImageSize", f"The image has too many pixels (at most {MAX_SIDE} px a side).")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageRejected("ErrorImageFormat", f"The image could not be decoded: {exc}")
    if orientation in _ROTATED:
        width, height = height, width
    return CheckedImage(width, height, img.format)


def _check_dimensions(width: int, height: int) -> None:
    if width < 1 or height < 1 or max(width, height) > MAX_SIDE:
        raise ImageRejected("ErrorImageSize", f"The image is {width}x{height}; at most {MAX_SIDE} px a side.")
    if max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise ImageRejected("ErrorImageSize", f"The image is {width}x{height}; the aspect ratio may be at most "
                            f"{MAX_ASPECT_RATIO:g}:1.")
