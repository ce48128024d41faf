"""Checking image bytes against Custom Vision's limits before anything is stored or predicted.

Only the JPEG, PNG, BMP and GIF decoders are ever tried (Pillow would otherwise try every format it knows,
some of which hand the bytes to external programs). A JPEG with several pictures (MPO, as phone cameras write)
is a JPEG.
"""
from __future__ import annotations

import io
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

FORMATS = {"JPEG", "PNG", "BMP", "GIF"}
OPEN_FORMATS = ("JPEG", "PNG", "BMP", "GIF")  # Pillow's JPEG decoder also opens MPO
MAX_SIDE = 10240
MAX_ASPECT_RATIO = 25.0
# Pillow refuses to decode more pixels than this (decompression bombs); a 10,240 px square is the most a
# real upload can have.
Image.MAX_IMAGE_PIXELS = MAX_SIDE * MAX_SIDE
_ROTATED = {5, 6, 7, 8}  # EXIF orientations that swap width and height
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError,
                  KeyError, ZeroDivisionError)
# A full decode of a big PNG/BMP/GIF takes up to 3 bytes a pixel (300 MB at 10,240 px square): at most two of
# those at a time, so a burst of large uploads cannot exhaust memory.
_BIG_PIXELS = 16_000_000
_BIG_DECODES = threading.BoundedSemaphore(2)
_OTHER_FORMATS = ((b"RIFF", "WEBP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"%!PS", "PostScript"),
                  (b"\x00\x00\x01\x00", "ICO"), (b"8BPS", "PSD"))


class ImageRejected(Exception):
    """An image this service will not take; `status` is Custom Vision's per-image upload status."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class CheckedImage:
    width: int   # as Custom Vision reports them: after the EXIF orientation is applied
    height: int
    format: str


def _unsupported(data: bytes, exc: BaseException) -> ImageRejected:
    for magic, name in _OTHER_FORMATS:
        if data.startswith(magic) and (name != "WEBP" or data[8:12] == b"WEBP"):
            return ImageRejected("ErrorImageFormat", f"Unsupported image format {name}; use JPEG, PNG, BMP or GIF.")
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return ImageRejected("ErrorImageFormat", "Unsupported image format HEIF/AVIF; use JPEG, PNG, BMP or GIF.")
    if isinstance(exc, UnidentifiedImageError):
        return ImageRejected("ErrorImageFormat", "The data is not a JPEG, PNG, BMP or GIF image.")
    return ImageRejected("ErrorImageFormat", f"The image could not be decoded: {exc}")


def _bomb() -> ImageRejected:
    return ImageRejected("ErrorImageSize", f"The image has too many pixels (at most {MAX_SIDE} px a side).")


@contextmanager
def _open(data: bytes):
    """The image, opened (header only) with only the four decoders; decompression bombs raise."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data), formats=OPEN_FORMATS) as img:
            yield img


def _orientation(img: Image.Image) -> int:
    try:
        value = img.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not reject an otherwise good image
        return 1
    return value if isinstance(value, int) else 1


def check_image(data: bytes, max_bytes: int) -> CheckedImage:
    """Decode enough of the image to be sure it is whole and within limits; raise ImageRejected if not."""
    if not data:
        raise ImageRejected("ErrorImageFormat", "The image is empty.")
    if len(data) > max_bytes:
        raise ImageRejected("ErrorImageSize", f"The image is {len(data):,} bytes; the limit is {max_bytes:,} bytes.")
    try:
        with _open(data) as img:
            fmt = "JPEG" if img.format == "MPO" else img.format
            width, height = img.size
            check_dimensions(width, height)
            img.draft("RGB", (256, 256))  # JPEG: decode at reduced scale, still reads the whole stream
            big = img.size[0] * img.size[1] > _BIG_PIXELS
            if big:
                _BIG_DECODES.acquire()
            try:
                img.load()  # the first frame of an animated GIF
            finally:
                if big:
                    _BIG_DECODES.release()
            orientation = _orientation(img)
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bomb() from None
    except _DECODE_ERRORS as exc:
        raise _unsupported(data, exc) from None
    if orientation in _ROTATED:
        width, height = height, width
    return CheckedImage(width, height, fmt)


def check_prediction_image(data: bytes, max_bytes: int) -> None:
    """The cheap checks before a prediction decodes an image: size in bytes, format and pixel dimensions,
    from the header alone. Statuses: ErrorImageSize (bytes), ErrorImageFormat (not an image of the four
    formats, or a decompression bomb), ErrorImageDimensions (more than 10,240 px a side)."""
    if len(data) > max_bytes:
        raise ImageRejected("ErrorImageSize", f"The image is {len(data):,} bytes; a prediction image may be at "
                            f"most {max_bytes:,} bytes.")
    try:
        with _open(data) as img:
            width, height = img.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected("ErrorImageFormat", f"The image has too many pixels to decode (at most {MAX_SIDE} px "
                            "a side).") from None
    except _DECODE_ERRORS as exc:
        raise _unsupported(data, exc) from None
    if width < 1 or height < 1 or max(width, height) > MAX_SIDE:
        raise ImageRejected("ErrorImageDimensions", f"The image is {width}x{height}; at most {MAX_SIDE} px a side.")


def check_dimensions(width: int, height: int) -> None:
    if width < 1 or height < 1 or max(width, height) > MAX_SIDE:
        raise ImageRejected("ErrorImageSize", f"The image is {width}x{height}; at most {MAX_SIDE} px a side.")
    if max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise ImageRejected("ErrorImageSize", f"The image is {width}x{height}; the aspect ratio may be at most "
                            f"{MAX_ASPECT_RATIO:g}:1.")
