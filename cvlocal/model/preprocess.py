"""Image bytes -> the backbone's input: [224,224,3] uint8 RGB, the centre 224 of the image resized bicubic to 256.

Two ways to reach 256 (`Resize`): "short-side" keeps the aspect ratio (the short side becomes 256; what every
iteration trained before heads recorded their preprocessing uses), "squash" resizes the whole image to 256x256.
Squash is what Azure's export samples do (`PIL.Image.open(f).resize(input_shape)`), so an exported model whose
input is 256x256 and that crops the centre 224 itself gives the service's answer to a client written like them.
Other sizes serve other backbones' native views (EfficientNet-Lite2: short side 292, centre 260).

This runs on every prediction request, so it avoids work: large JPEGs are decoded at a reduced DCT scale
(``Image.draft``), and the resize computes only the centre crop (``resize(box=...)`` samples exactly the
pixels that a full resize followed by a crop would keep).
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

RESIZE_SHORT = 256
CROP = 224
SHORT_SIDE, SQUASH = "short-side", "squash"
RESIZES = (SHORT_SIDE, SQUASH)
_BACKGROUND = (255, 255, 255)  # transparent pixels are composited onto white


def decode_for_model(data: bytes, size: int = CROP, resize_short: int = RESIZE_SHORT,
                     resize: str = SHORT_SIDE) -> np.ndarray:
    """Encoded image bytes (JPEG, PNG, GIF, BMP, WebP, TIFF...) -> [size,size,3] uint8 RGB.

    Raises ``ValueError`` when the data is not a decodable image.
    """
    return decode_and_describe(data, size, resize_short, resize)[0]


def decode_and_describe(data: bytes, size: int = CROP, resize_short: int = RESIZE_SHORT,
                        resize: str = SHORT_SIDE) -> tuple[np.ndarray, str, tuple[int, int]]:
    """``decode_for_model`` plus what the bytes are: (pixels, Pillow format name, (width, height) as encoded).

    Prediction uses the format and size to decide whether the image may be stored, without decoding it twice.
    Raises ``ValueError`` when the data is not a decodable image.
    """
    try:
        img = Image.open(io.BytesIO(data))
        described = img.format, img.size
        if img.format in ("JPEG", "MPO"):  # MPO: the JPEG variant many phone cameras write
            # Decode at 1/2, 1/4 or 1/8 scale while both sides stay >= resize_short.
            img.draft("RGB", (resize_short, resize_short))
        img.load()  # the first frame only, for animated GIF / WebP / APNG
        return preprocess_array(img, size, resize_short, resize), *described
    except Exception as exc:  # Pillow raises many types for bad input; callers want one
        raise ValueError(f"cannot decode image ({len(data)} bytes): {exc}") from exc


def preprocess_array(img: Image.Image, size: int = CROP, resize_short: int = RESIZE_SHORT,
                     resize: str = SHORT_SIDE) -> np.ndarray:
    """An opened Pillow image -> [size,size,3] uint8 RGB: EXIF orientation, any mode to RGB, resize, crop."""
    if not 0 < size <= resize_short:
        raise ValueError(f"the crop ({size}) must be positive and no larger than the short side ({resize_short})")
    if resize not in RESIZES:
        raise ValueError(f"resize must be one of {RESIZES}, not {resize!r}")
    img = ImageOps.exif_transpose(img, in_place=False) if _needs_transpose(img) else img
    img = to_rgb(img)
    w, h = img.size
    if min(w, h) < 1:
        raise ValueError("empty image")
    if resize == SQUASH:
        # The whole resize, then the crop: exactly the pixels of `Image.resize((256, 256))` (what Azure's
        # export samples feed an export) cropped as the exported graph crops them. Resizing the crop box alone
        # differs from it by a level here and there, which flipped a borderline photo's top tag.
        first = round((resize_short - size) / 2)
        img = img.resize((resize_short, resize_short), Image.Resampling.BICUBIC)
        return np.ascontiguousarray(np.asarray(img, dtype=np.uint8)[first:first + size, first:first + size])
    # Sizes a full resize would give; the crop box is mapped back into source pixels.
    new_w, new_h = (resize_short, max(1, round(h * resize_short / w))) if w <= h else \
        (max(1, round(w * resize_short / h)), resize_short)
    left, top = round((new_w - size) / 2), round((new_h - size) / 2)
    sx, sy = w / new_w, h / new_h
    box = (left * sx, top * sy, (left + size) * sx, (top + size) * sy)
    img = img.resize((size, size), Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)
    return np.asarray(img, dtype=np.uint8)


def _needs_transpose(img: Image.Image) -> bool:
    # Reading the tag ourselves avoids the full copy exif_transpose makes when there is nothing to do.
    try:
        return img.getexif().get(0x0112, 1) not in (1, None)
    except Exception:  # a broken EXIF block must not reject an otherwise good image
        return False


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB; alpha is composited onto white, 16/32-bit greyscale is scaled to 8 bits."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(img).astype(np.float32)
        # 16-bit samples are scaled to 8 bits; 32-bit "I" only when its values need it; float is clipped.
        if mode.startswith("I;16") or (mode == "I" and arr.max(initial=0) > 255):
            arr = arr / 257.0
        return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode == "P" and "transparency" in img.info:
        img, mode = img.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, _BACKGROUND)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")
