"""An image named in a config or on the command line is a file or an http(s) URL; each goes to the SDK operation
made for it (`..._url` with a JSON body, or the bytes), and predictions come back highest probability first.
A file over the prediction limits (4 MB, 10,240 px on a side) is scaled down first, as a JPEG."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

MAX_PREDICTION_BYTES = 4 * 1024 * 1024
MAX_SIDE = 10_240


def is_url(image: str) -> bool:
    return image.startswith(("http://", "https://"))


def ranked(prediction: Any) -> list[Any]:
    """The predictions of an ImagePrediction, highest probability first."""
    return sorted(prediction.predictions or [], key=lambda p: p.probability or 0.0, reverse=True)


def quick_test(trainer: Any, project_id: str, image: str, iteration_id: str) -> Any:
    """Quick-test an image against an iteration, storing nothing in the project."""
    if is_url(image):
        return trainer.quick_test_image_url(project_id, image, iteration_id=iteration_id, store=False)
    return trainer.quick_test_image(project_id, Path(image).read_bytes(), iteration_id=iteration_id, store=False)


def classify(predictor: Any, project_id: str, published_name: str, image: str | bytes) -> Any:
    """Classify an image (a URL, a file, or its bytes) with the iteration published under `published_name`."""
    if isinstance(image, str) and is_url(image):
        return predictor.classify_image_url(project_id, published_name, image)
    data = image if isinstance(image, bytes) else Path(image).read_bytes()
    return predictor.classify_image(project_id, published_name, data)


def fit_for_prediction(data: bytes) -> tuple[bytes, str | None]:
    """The bytes as they are when within the prediction limits; else scaled down (a JPEG) until they are, with
    a note of what was done. Raises ValueError for bytes that are not an image."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=("JPEG", "PNG", "BMP", "GIF")) as opened:
            width, height = opened.size
            if len(data) <= MAX_PREDICTION_BYTES and max(width, height) <= MAX_SIDE:
                return data, None
            picture = ImageOps.exif_transpose(opened).convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError("not a JPEG, PNG, BMP or GIF image") from None
    width, height = picture.size
    scale = min(1.0, MAX_SIDE / max(width, height))
    for _ in range(12):
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        buffer = io.BytesIO()
        (picture.resize(size, Image.Resampling.LANCZOS) if size != picture.size else picture).save(
            buffer, "JPEG", quality=90)
        if buffer.tell() <= MAX_PREDICTION_BYTES:
            return buffer.getvalue(), (f"resized from {width}x{height} px, {len(data) / 1e6:.1f} MB to "
                                       f"{size[0]}x{size[1]} px, {buffer.tell() / 1e6:.1f} MB: the prediction "
                                       "limit is 4 MB and 10,240 px")
        scale *= 0.75
    raise ValueError("could not be made small enough for prediction")
