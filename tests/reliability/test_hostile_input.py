"""Hostile input: broken, disguised, oversized and exotic images, and names and metadata made of long, unicode,
path and SQL text. Whatever arrives, the answer is a Custom Vision status or a JSON error, never a 5xx or a hang;
exotic but valid images are taken and measured as Custom Vision measures them."""
from __future__ import annotations

import base64
import io
import struct
import zlib
from urllib.parse import quote

import numpy as np
import pytest
from PIL import Image, ImageOps

from harness.images import decompression_bomb, photo
from harness.rest import Rest

OCTET = {"Content-Type": "application/octet-stream"}


def encode(img: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def base_rgb(size=(320, 240)) -> Image.Image:
    return Image.open(io.BytesIO(photo("red", 1, size=size))).convert("RGB")


def png_rgb16(width: int, height: int) -> bytes:
    """A 16-bit-per-channel RGB PNG (Pillow reads these but cannot write them)."""
    raw = b"".join(b"\x00" + struct.pack(">HHH", 50000, 9000, 4000) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def gif_claiming(width: int, height: int) -> bytes:
    """A few bytes of GIF whose screen and frame claim `width` x `height` pixels."""
    return (b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
            + b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00\x3b")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) is rewritten to claim `width` x `height` pixels."""
    data = bytearray(photo("red", 2))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def bmp_claiming(width: int, height: int) -> bytes:
    header = struct.pack("<2sIHHI", b"BM", 54 + 16, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 16, 2835, 2835, 0, 0)
    return header + info + b"\0" * 16


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (120, 90), c) for c in ((200, 30, 30), (30, 60, 200), (30, 170, 60))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def with_orientation(img: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(img, "JPEG", quality=92, exif=exif.tobytes())


def _rgb16_png() -> bytes:
    return png_rgb16(64, 48)


NOT_AN_IMAGE = ("ErrorImageFormat", "BadRequestImageFormat")
BROKEN = {  # name: (bytes, upload status, prediction error code); made when the test runs
    "truncated JPEG": lambda: (photo("red", 2, size=(320, 240))[:1500], "ErrorImageFormat", "BadRequestImageFormat"),
    "truncated PNG": lambda: (encode(base_rgb(), "PNG")[:2000], "ErrorImageFormat", "BadRequestImageFormat"),
    "truncated GIF": lambda: (encode(base_rgb(), "GIF")[:2500], "ErrorImageFormat", "BadRequestImageFormat"),
    "PNG magic, JPEG body": lambda: (b"\x89PNG\r\n\x1a\n" + photo("red", 3)[8:], *NOT_AN_IMAGE),
    "JPEG magic, garbage": lambda: (b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8, *NOT_AN_IMAGE),
    "text": lambda: (b"<html>not an image</html>" * 20, "ErrorImageFormat", "BadRequestImageFormat"),
    "WebP": lambda: (encode(base_rgb(), "WEBP"), "ErrorImageFormat", "BadRequestImageFormat"),
    "TIFF": lambda: (encode(base_rgb(), "TIFF"), "ErrorImageFormat", "BadRequestImageFormat"),
    "PostScript": lambda: (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n", "ErrorImageFormat",
                   "BadRequestImageFormat"),
    "PNG bomb 20,000 px": lambda: (decompression_bomb(), "ErrorImageSize", "BadRequestImageFormat"),
    "PNG bomb 11,000 px": lambda: (encode(Image.new("1", (11000, 11000)), "PNG", optimize=True), "ErrorImageSize",
                           "BadRequestImageFormat"),
    "GIF claiming 60,000 px": lambda: (gif_claiming(60000, 60000), "ErrorImageSize", "BadRequestImageFormat"),
    "JPEG claiming 65,000 px": lambda: (jpeg_claiming(65000, 65000), "ErrorImageSize", "BadRequestImageFormat"),
    "BMP claiming 50,000 px": lambda: (bmp_claiming(50000, 50000), "ErrorImageSize", "BadRequestImageFormat"),
    "10,241 px": lambda: (encode(Image.new("RGB", (10241, 500), (200, 30, 30)), "PNG"), "ErrorImageSize",
                  "BadRequestImageDimensions"),
    "aspect ratio 26:1": lambda: (encode(Image.new("RGB", (2600, 100), (200, 30, 30)), "PNG"), "ErrorImageSize", None),
}
GOOD = {  # name: (bytes, (width, height) as stored); made when the test runs
    "10,240 px": lambda: (encode(Image.new("RGB", (10240, 500), (200, 30, 30)), "PNG"), (10240, 500)),
    "animated GIF": lambda: (animated_gif(), (120, 90)),
    "CMYK JPEG": lambda: (encode(base_rgb().convert("CMYK"), "JPEG"), (320, 240)),
    "16-bit grey PNG": lambda: (encode(Image.fromarray((np.asarray(base_rgb().convert("L")).astype(np.uint16) * 257)),
                               "PNG"), (320, 240)),
    "16-bit RGB PNG": lambda: (_rgb16_png(), (64, 48)),
    "RGBA PNG": lambda: (encode(base_rgb().convert("RGBA"), "PNG"), (320, 240)),
    "palette PNG with transparency": lambda: (encode(base_rgb().convert("P"), "PNG", transparency=0), (320, 240)),
    "BMP": lambda: (encode(base_rgb(), "BMP"), (320, 240)),
    "MPO (phone JPEG)": lambda: (encode(base_rgb(), "MPO", save_all=True, append_images=[base_rgb().rotate(90)]),
                         (320, 240)),
    "1x1 PNG": lambda: (encode(Image.new("RGB", (1, 1), (200, 30, 30)), "PNG"), (1, 1)),
}


@pytest.fixture(scope="module")
def world(cvlocal_service):
    rest = Rest(cvlocal_service)
    pid, tags, iid = rest.trained_project()
    return rest, pid, tags["red"], iid


def upload_one(rest: Rest, pid: str, tag: str, data: bytes, name: str = "x.jpg"):
    r = rest.training("POST", f"/projects/{pid}/images/files", timeout=60,
                      json={"images": [{"name": name, "contents": base64.b64encode(data).decode(), "tagIds": [tag]}]})
    assert r.status_code in (200, 207), (r.status_code, r.text[:300])
    return r.json()["images"][0]


def quick_test(rest: Rest, pid: str, iid: str, data: bytes):
    return rest.training("POST", f"/projects/{pid}/quicktest/image", params={"iterationId": iid, "store": "false"},
                         content=data, headers=OCTET, timeout=60)


def probabilities(response) -> dict[str, float]:
    assert response.status_code == 200, response.text
    return {p["tagName"]: p["probability"] for p in response.json()["predictions"]}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_disguised_and_oversized_images_are_refused_with_their_status(world, name):
    rest, pid, tag, iid = world
    data, status, prediction_code = BROKEN[name]()
    result = upload_one(rest, pid, tag, data)
    assert result["status"] == status and result["image"] is None and result["message"], result
    r = quick_test(rest, pid, iid, data)
    if prediction_code is None:  # prediction has no aspect-ratio rule
        assert r.status_code == 200, r.text
    else:
        assert r.status_code == 400 and r.json()["code"] == prediction_code, (r.status_code, r.text[:300])


@pytest.mark.parametrize("name", list(GOOD))
def test_exotic_but_valid_images_are_taken_and_predicted(world, name):
    rest, pid, tag, iid = world
    data, (width, height) = GOOD[name]()
    result = upload_one(rest, pid, tag, data)
    assert result["status"] in ("OK", "OKDuplicate"), result
    assert (result["image"]["width"], result["image"]["height"]) == (width, height)
    assert len(probabilities(quick_test(rest, pid, iid, data))) == 2
    if name.startswith("MPO"):
        assert rest.http.get(result["image"]["originalImageUri"]).headers["content-type"] == "image/jpeg"


def test_an_animated_gif_is_its_first_frame(world):
    rest, pid, _, iid = world
    first = Image.open(io.BytesIO(animated_gif()))
    as_png = encode(first.convert("RGB"), "PNG")
    assert probabilities(quick_test(rest, pid, iid, animated_gif())) == \
        pytest.approx(probabilities(quick_test(rest, pid, iid, as_png)), abs=1e-6)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_rotated_photos_are_stored_and_predicted_as_displayed(world, orientation):
    """Custom Vision applies the EXIF orientation: width and height as displayed, and predictions equal those of
    the same pixels already rotated (320x240 so the JPEG decodes at full scale)."""
    rest, pid, tag, iid = world
    raw = Image.open(io.BytesIO(photo("blue", 40 + orientation, size=(320, 240)))).convert("RGB")
    data = with_orientation(raw, orientation)
    result = upload_one(rest, pid, tag, data)
    expected = (240, 320) if orientation >= 5 else (320, 240)
    assert (result["image"]["width"], result["image"]["height"]) == expected
    thumbnail = Image.open(io.BytesIO(rest.http.get(result["image"]["thumbnailUri"]).content))
    assert (thumbnail.width < thumbnail.height) == (orientation >= 5)
    upright = encode(ImageOps.exif_transpose(Image.open(io.BytesIO(data))), "PNG")  # decoded, rotated, lossless
    assert probabilities(quick_test(rest, pid, iid, data)) == \
        pytest.approx(probabilities(quick_test(rest, pid, iid, upright)), abs=1e-5)


def test_an_empty_or_oversized_body_is_a_json_error(world):
    rest, pid, tag, iid = world
    r = rest.training("POST", f"/projects/{pid}/images", params={"tagIds": tag}, content=b"", headers=OCTET)
    assert r.status_code == 400 and r.json()["code"] == "BadRequestImageStream"
    r = rest.training("POST", f"/projects/{pid}/tags", params={"name": "x"}, content=b"{" * (2 * 1024 * 1024),
                      headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 400, 413) and r.headers["content-type"].startswith("application/json")
    r = rest.training("PATCH", f"/projects/{pid}", content=b" " * (2 * 1024 * 1024),
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "BadRequest"
    r = quick_test(rest, pid, iid, photo("red", 1) + b"\0" * (6 * 1024 * 1024))
    assert r.status_code == 413 and r.json()["code"] == "BadRequestImageSizeBytes"


NAMES = ["x" * 256, "épinards/bio", "苹果 🍎 تفاحة", "e\u0301 combining", "../../etc/passwd", "..\\..\\windows",
         "a/b\\c", "'; DROP TABLE projects; --", "\" OR 1=1 --", "%_%", "x' UNION SELECT * FROM images --",
         "line\nbreak\ttab", "nul\x00byte", "<script>alert(1)</script>", "  padded  "]


@pytest.mark.parametrize("name", NAMES)
def test_project_and_tag_names_survive_a_round_trip(world, name):
    rest = world[0]
    project_name = f"{NAMES.index(name)} {name}"[:256]
    r = rest.training("POST", "/projects", params={"name": project_name})
    assert r.status_code == 200, r.text
    project = r.json()
    assert project["name"] == project_name.strip()
    pid = project["id"]
    assert rest.training("GET", f"/projects/{pid}").json()["name"] == project["name"]
    assert [p["id"] for p in rest.training("GET", "/projects").json() if p["name"] == project["name"]] == [pid]
    r = rest.training("POST", f"/projects/{pid}/tags", params={"name": name})
    assert r.status_code == 200, r.text
    tag = r.json()
    assert tag["name"] == name.strip()
    r = rest.training("POST", f"/projects/{pid}/tags", params={"name": name})
    assert r.status_code == 400 and r.json()["code"] == "BadRequestTagNameNotUnique"
    r = rest.training("PATCH", f"/projects/{pid}/tags/{tag['id']}",
                      json={"name": name[:255] + "2", "description": name})
    assert r.status_code == 200 and r.json()["description"] == name
    assert rest.training("DELETE", f"/projects/{pid}").status_code == 204


def test_names_too_long_or_empty_are_refused(world):
    rest, pid, tag, _ = world
    for params, code in (({"name": "x" * 257}, "BadRequestProjectName"), ({"name": "   "}, "BadRequestProjectName"),
                         ({"name": "ok", "description": "d" * 5000}, "BadRequestProjectDescription")):
        r = rest.training("POST", "/projects", params=params)
        assert r.status_code == 400 and r.json()["code"] == code, (params, r.text)
    r = rest.training("PATCH", f"/projects/{pid}", json={"name": "y" * 100_000})
    assert r.status_code == 400 and r.json()["code"] == "BadRequestProjectName"
    r = rest.training("POST", f"/projects/{pid}/tags", params={"name": "t" * 257})
    assert r.status_code == 400 and r.json()["code"] == "BadRequestTagName"
    r = rest.training("PATCH", f"/projects/{pid}/tags/{tag}", json={"name": "t" * 257})
    assert r.status_code == 400 and r.json()["code"] == "BadRequestTagName"


PUBLISH_OK = ["苹果 ✓", "a\\b", "'; DROP TABLE iterations; --", "%2F", "?x=1#y", "...", "x" * 256]
PUBLISH_REFUSED = ["a/b", "../x", "..", ".", "", "x" * 257]


def test_publish_names_are_refused_when_no_url_could_reach_them_and_work_otherwise(world):
    rest, pid, _, iid = world
    for name in PUBLISH_REFUSED:
        r = rest.training("POST", f"/projects/{pid}/iterations/{iid}/publish",
                          params={"publishName": name, "predictionId": rest.service.prediction_resource_id})
        assert r.status_code == 400 and r.json()["code"] == "BadRequestInvalidPublishName", (name, r.text)
    for name in PUBLISH_OK:
        r = rest.training("POST", f"/projects/{pid}/iterations/{iid}/publish",
                          params={"publishName": name, "predictionId": rest.service.prediction_resource_id,
                                  "overwrite": "true"})
        assert r.status_code == 200 and r.json() is True, (name, r.text)
        r = rest.prediction("POST", f"/{pid}/classify/iterations/{quote(name, safe='')}/image/nostore",
                            content=photo("red", 5), headers=OCTET)  # percent-quoted, as the SDK sends it
        assert r.status_code == 200, (name, r.text)
        assert rest.training("DELETE", f"/projects/{pid}/iterations/{iid}/publish").status_code == 204


def test_metadata_with_sql_unicode_and_paths_round_trips_within_azures_limits(world):
    rest, pid, tag, _ = world
    metadata = {"'; DROP TABLE images; --": "\" OR 1=1", "路径/../x": "C:\\Windows\\..", "k" * 128: "v" * 256,
                "emoji 🍎": "nul\x00byte"}
    image = upload_one(rest, pid, tag, photo("green", 900))["image"]
    r = rest.training("POST", f"/projects/{pid}/images/metadata", params={"imageIds": image["id"]}, json=metadata)
    assert r.status_code == 200 and r.json()["images"][0]["metadata"] == metadata
    stored = rest.training("GET", f"/projects/{pid}/images/id", params={"imageIds": image["id"]}).json()[0]
    assert stored["metadata"] == metadata
    for bad, code in (({"k" * 129: "v"}, "BadRequestImageMetadataKey"), ({"": "v"}, "BadRequestImageMetadataKey"),
                      ({"k": "v" * 257}, "BadRequestImageMetadataValue"),
                      ({f"k{i}": "v" for i in range(11)}, "BadRequestImageMetadataKey")):
        r = rest.training("POST", f"/projects/{pid}/images/metadata", params={"imageIds": image["id"]}, json=bad)
        assert r.status_code == 400 and r.json()["code"] == code, (bad, r.text)
        r = rest.training("POST", f"/projects/{pid}/images/files", json={"metadata": bad, "images": [
            {"name": "m.jpg", "contents": base64.b64encode(photo("green", 901)).decode(), "tagIds": [tag]}]})
        assert r.status_code == 400 and r.json()["code"] == code, (bad, r.text)
    r = rest.training("POST", f"/projects/{pid}/images/metadata", params={"imageIds": image["id"]},
                      json={f"more{i}": "v" for i in range(7)})  # 4 + 7 > 10
    assert r.status_code == 207 and r.json()["images"][0]["status"] == "ErrorLimitExceed"
    assert rest.training("GET", f"/projects/{pid}/images/id",
                         params={"imageIds": image["id"]}).json()[0]["metadata"] == metadata
