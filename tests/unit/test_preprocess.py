"""decode_for_model: every kind of upload a user may send ends as a [224,224,3] uint8 RGB array (or ValueError)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from cvlocal.model.preprocess import decode_for_model

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def assert_model_input(arr: np.ndarray) -> None:
    assert arr.shape == (224, 224, 3)
    assert arr.dtype == np.uint8


def close_to(arr: np.ndarray, colour, tol: float = 12) -> bool:
    return bool(np.abs(arr.reshape(-1, 3).mean(0) - np.array(colour)).max() < tol)


def halves(size=(400, 300), first=RED, second=BLUE) -> Image.Image:
    """Left half `first`, right half `second`."""
    img = Image.new("RGB", size, second)
    img.paste(first, (0, 0, size[0] // 2, size[1]))
    return img


def test_plain_jpeg_keeps_left_and_right():
    out = decode_for_model(encode(halves(), "JPEG", quality=95))
    assert_model_input(out)
    assert close_to(out[:, :100], RED) and close_to(out[:, -100:], BLUE)


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display = rotate 90 degrees clockwise, so the left half goes on top
    out = decode_for_model(encode(halves(), "JPEG", quality=95, exif=exif.tobytes()))
    assert_model_input(out)
    assert close_to(out[:100], RED) and close_to(out[-100:], BLUE)


def test_large_jpeg_reduced_decode_matches_full_decode():
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    big = Image.fromarray(small).resize((1024, 768), Image.Resampling.BICUBIC)  # smooth, photo-like
    data = encode(big, "JPEG", quality=90)
    fast = decode_for_model(data).astype(float)
    full = np.asarray(big.resize((341, 256), Image.Resampling.BICUBIC).crop((58, 16, 282, 240))).astype(float)
    assert np.abs(fast - full).mean() < 3


def test_cmyk_jpeg():
    out = decode_for_model(encode(Image.new("CMYK", (300, 300), (0, 255, 255, 0)), "JPEG"))
    assert_model_input(out)
    assert close_to(out, RED, tol=20)


def test_greyscale_jpeg_gives_three_equal_channels():
    out = decode_for_model(encode(Image.new("L", (300, 300), 100), "JPEG"))
    assert_model_input(out)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])


def test_16_bit_png_is_scaled_not_clipped():
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (256, 1))  # dark left, bright right
    out = decode_for_model(encode(Image.fromarray(ramp), "PNG"))
    assert_model_input(out)
    row = out[112, :, 0].astype(int)
    assert row[0] < 40 and row[-1] > 215 and 100 < row[112] < 156
    assert np.all(np.diff(row) >= -1)  # monotonic up to rounding


def test_palette_png_transparency_becomes_white():
    img = Image.new("P", (300, 300), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)  # index 0 black (transparent), 1 red
    img.paste(1, (0, 0, 150, 300))
    out = decode_for_model(encode(img, "PNG", transparency=0))
    assert_model_input(out)
    assert close_to(out[:, :100], RED) and close_to(out[:, -100:], WHITE)


def test_rgba_png_transparency_becomes_white():
    img = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    img.paste((0, 0, 255, 255), (0, 0, 150, 300))
    out = decode_for_model(encode(img, "PNG"))
    assert close_to(out[:, :100], BLUE) and close_to(out[:, -100:], WHITE)


def test_animated_gif_uses_first_frame():
    frames = [Image.new("RGB", (300, 300), c).convert("P") for c in (RED, BLUE, (0, 255, 0))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    out = decode_for_model(data)
    assert_model_input(out)
    assert close_to(out, RED)


def test_tiny_image_is_upscaled():
    out = decode_for_model(encode(Image.new("RGB", (10, 10), BLUE), "PNG"))
    assert_model_input(out)
    assert close_to(out, BLUE, tol=2)


def test_extreme_aspect_ratio_takes_the_centre():
    img = Image.new("RGB", (2000, 20), WHITE)
    img.paste(RED, (995, 0, 1005, 20))  # a red band in the middle: 10 px, 128 px after the resize
    out = decode_for_model(encode(img, "PNG"))
    assert_model_input(out)
    assert close_to(out[:, 100:124], RED, tol=40) and close_to(out[:, :40], WHITE, tol=2)


def test_centre_crop_drops_the_sides():
    img = Image.new("RGB", (512, 256), WHITE)  # resized 512x256 -> kept columns 144..368
    img.paste(RED, (0, 0, 136, 256))
    img.paste(BLUE, (376, 0, 512, 256))
    out = decode_for_model(encode(img, "PNG"))
    assert close_to(out, WHITE, tol=1)


@pytest.mark.parametrize("fmt", ["BMP", "WEBP", "TIFF"])
def test_other_formats(fmt):
    out = decode_for_model(encode(halves(), fmt))
    assert_model_input(out)
    assert close_to(out[:, :100], RED, tol=20)


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_garbage_raises_value_error(data):
    with pytest.raises(ValueError, match="cannot decode image"):
        decode_for_model(data)


def test_truncated_jpeg_raises_value_error():
    data = encode(halves((800, 600)), "JPEG")
    with pytest.raises(ValueError, match="cannot decode image"):
        decode_for_model(data[: len(data) // 2])


# ---- squash: the whole image to 256x256, then the centre 224 (what new iterations train and predict on) -------

def test_squash_keeps_the_whole_width_where_the_short_side_crop_drops_the_sides():
    img = Image.new("RGB", (512, 256), WHITE)
    img.paste(RED, (0, 0, 136, 256))
    img.paste(BLUE, (376, 0, 512, 256))
    out = decode_for_model(encode(img, "PNG"), resize="squash")
    assert_model_input(out)
    # 512 wide squashed to 256, centre 224: columns 32..480 of the original, red and blue on either side
    assert close_to(out[:, :40], RED, tol=2) and close_to(out[:, -40:], BLUE, tol=2)
    assert close_to(out[:, 100:124], WHITE, tol=1)


@pytest.mark.parametrize("size", [(300, 200), (348, 464), (256, 256), (90, 70)])
def test_squash_is_what_azures_export_samples_feed_cropped_as_the_export_crops(size):
    """`PIL.Image.open(f).resize((256, 256))` (the samples' preprocessing), then the centre 224 the exported
    graph takes: exactly the service's pixels (JPEGs big enough for a reduced decode aside)."""
    rng = np.random.default_rng(0)
    low = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).resize(size, Image.Resampling.BICUBIC)
    data = encode(low, "PNG")
    sample = np.asarray(Image.open(io.BytesIO(data)).resize((256, 256)), np.int16)[16:240, 16:240]
    ours = decode_for_model(data, resize="squash").astype(np.int16)
    np.testing.assert_array_equal(sample, ours)


def test_an_unknown_resize_is_refused():
    with pytest.raises(ValueError, match="resize"):
        decode_for_model(encode(Image.new("RGB", (10, 10)), "PNG"), resize="stretch")
