"""Boxes as Custom Vision takes them: a region is a tag and `left, top, width, height` normalised to the image
as displayed (EXIF orientation applied). The box formats' readers (voc.py, coco.py, yolo.py, and the manifest's
regions) give their boxes to `Frame`, which normalises them, applies the orientation, clips what the format lets
it clip and says what is wrong with the rest, naming the file and the line or object."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

MAX_REGIONS_PER_IMAGE = 300  # Azure's "Max number of regions per image" (object detection, F0 and S0)
SAME = 1e-6  # two coordinates closer than this are the same (the service's rounding, `cvops compare`)
ORIENTATION = 0x0112
TRANSPOSED = {5, 6, 7, 8}  # orientations that swap width and height


@dataclass(frozen=True)
class Region:
    """One box of a dataset image: a Custom Vision tag name and the normalised box."""

    tag: str
    left: float
    top: float
    width: float
    height: float
    origin: str = field(default="", compare=False)  # FILE:LINE or FILE object N, for messages

    def key(self) -> tuple[str, int, int, int, int]:
        """What two regions share when they are the same box (tag, coordinates to SAME)."""
        return (self.tag.casefold(), *(round(v / SAME) for v in (self.left, self.top, self.width, self.height)))

    def same_box(self, other: "Region") -> bool:
        return self.tag.casefold() == other.tag.casefold() and all(
            abs(a - b) <= SAME for a, b in zip(self.box, other.box))

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.left, self.top, self.width, self.height)

    def canonical(self) -> str:
        """The box in a dataset version's canonical text (insight/manifest.py): 4 decimals."""
        return f"{self.tag}@{self.left:.4f},{self.top:.4f},{self.width:.4f},{self.height:.4f}"

    def describe(self) -> str:
        return f"{self.tag} [{', '.join(f'{v:.4f}' for v in self.box)}]"


@dataclass(frozen=True)
class Frame:
    """An image's size as stored (`stored`, before EXIF orientation) and as displayed (`shown`)."""

    stored: tuple[int, int]
    orientation: int

    @property
    def shown(self) -> tuple[int, int]:
        w, h = self.stored
        return (h, w) if self.orientation in TRANSPOSED else (w, h)

    @classmethod
    def of(cls, path: Path) -> "Frame":
        """The image's header read with Pillow (no pixels decoded); ValueError when it is not an image."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path) as img:
                    try:
                        orientation = img.getexif().get(ORIENTATION, 1)
                    except Exception:  # noqa: BLE001 - a broken EXIF block: the image is shown as stored
                        orientation = 1
                    return cls(img.size, orientation if orientation in range(1, 9) else 1)
        except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
            raise ValueError(f"cannot read the image: {exc}") from None

    def declared(self, width: float | None, height: float | None) -> tuple[str | None, bool]:
        """(a problem, whether the annotation's pixels are of the stored image) for the size an annotation file
        says its image has. A size that is the displayed one is what labelling tools that apply EXIF
        orientation write; one that is the stored one (and not the displayed one) means the boxes were drawn on
        the stored pixels, and are turned with the image. No size (None or 0): the displayed one."""
        if not width or not height:
            return None, False
        size = (round(width), round(height))
        if size == self.shown:
            return None, False
        if size == self.stored:
            return None, True
        return (f"the annotation says the image is {size[0]}x{size[1]} pixels, the image is "
                f"{self.shown[0]}x{self.shown[1]}"), False


class Boxes:
    """Collects one image's regions and the problems of the rest, each naming where it came from."""

    def __init__(self, frame: Frame, problems: list[str]):
        self.frame, self.problems = frame, problems
        self.regions: list[Region] = []

    def pixels(self, where: str, tag: str, x1: float, y1: float, x2: float, y2: float, stored: bool = False) -> None:
        """A box in pixels (corners), of the displayed image, or of the stored one when `stored`. A box that
        ends at most one pixel past an edge (VOC's 1-based pixels, rounding) is clipped; more is refused."""
        w, h = self.frame.stored if stored else self.frame.shown
        if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
            self.problems.append(f"{where}: {tag}: coordinates must be finite numbers")
            return
        if x2 <= x1 or y2 <= y1:
            self.problems.append(f"{where}: {tag}: degenerate box ({x1:g}, {y1:g}) to ({x2:g}, {y2:g}): no area")
            return
        if max(x1, y1, x2, y2) <= 1.0 and min(w, h) > 2:
            self.problems.append(f"{where}: {tag}: every coordinate is at most 1 ({x1:g}, {y1:g}, {x2:g}, {y2:g}): "
                                 "these look normalised, and this format's boxes are in pixels")
            return
        if x1 < -1 or y1 < -1 or x2 > w + 1 or y2 > h + 1:
            self.problems.append(f"{where}: {tag}: box ({x1:g}, {y1:g}) to ({x2:g}, {y2:g}) is outside the "
                                 f"{w}x{h} image")
            return
        self._add(where, tag, max(x1, 0) / w, max(y1, 0) / h, min(x2, w) / w, min(y2, h) / h, stored)

    def normalised(self, where: str, tag: str, left: float, top: float, width: float, height: float,
                   tolerance_px: float = 0.0) -> None:
        """A normalised box of the displayed image. Up to `tolerance_px` pixels past an edge is clipped (YOLO's
        rounded values); more, or values that look like pixels, are refused."""
        w, h = self.frame.shown
        values = (left, top, width, height)
        if not all(math.isfinite(v) for v in values):
            self.problems.append(f"{where}: {tag}: coordinates must be finite numbers")
            return
        if width <= 0 or height <= 0:
            self.problems.append(f"{where}: {tag}: degenerate box (width {width:g}, height {height:g}): no area")
            return
        if max(values) > 1.5:
            self.problems.append(f"{where}: {tag}: values over 1 ({', '.join(f'{v:g}' for v in values)}): these "
                                 "look like pixels, and this format's boxes are normalised to the image (0 to 1)")
            return
        dx, dy = max(tolerance_px / w, SAME), max(tolerance_px / h, SAME)
        right, bottom = left + width, top + height
        if left < -dx or top < -dy or right > 1 + dx or bottom > 1 + dy:
            self.problems.append(f"{where}: {tag}: box ({', '.join(f'{v:g}' for v in values)}) extends outside "
                                 "the image (left + width and top + height must be at most 1)")
            return
        self._add(where, tag, max(left, 0.0), max(top, 0.0), min(right, 1.0), min(bottom, 1.0), False)

    def _add(self, where: str, tag: str, x1: float, y1: float, x2: float, y2: float, stored: bool) -> None:
        if stored:
            x1, y1, x2, y2 = turned(x1, y1, x2, y2, self.frame.orientation)
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            self.problems.append(f"{where}: {tag}: the box has no area inside the image")
            return
        self.regions.append(Region(tag, x1, y1, x2 - x1, y2 - y1, where))


def turned(x1: float, y1: float, x2: float, y2: float, orientation: int) -> tuple[float, float, float, float]:
    """A normalised box (corners) of the stored image as it is on the displayed one (EXIF orientation 1-8,
    what Pillow's ImageOps.exif_transpose does to the pixels)."""
    def point(x: float, y: float) -> tuple[float, float]:
        return {1: (x, y), 2: (1 - x, y), 3: (1 - x, 1 - y), 4: (x, 1 - y), 5: (y, x), 6: (1 - y, x),
                7: (1 - y, 1 - x), 8: (y, 1 - x)}[orientation]
    (ax, ay), (bx, by) = point(x1, y1), point(x2, y2)
    return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)


def region_problems(image: str, regions: list[Region], known: set[str] | None) -> list[str]:
    """What Custom Vision would refuse in one image's regions: duplicates, too many, unknown labels."""
    problems = []
    if len(regions) > MAX_REGIONS_PER_IMAGE:
        problems.append(f"{image}: {len(regions):,} boxes; Custom Vision takes at most {MAX_REGIONS_PER_IMAGE} "
                        "regions an image")
    seen: dict[tuple, Region] = {}
    for region in regions:
        first = seen.setdefault(region.key(), region)
        if first is not region:
            problems.append(f"{region.origin}: duplicate box: {region.describe()} is also at {first.origin}")
    if known is not None:
        folded = {k.casefold() for k in known}
        problems += [f"{r.origin}: unknown label {r.tag!r} (not in dataset.classes: {', '.join(sorted(known))})"
                     for r in regions if r.tag.casefold() not in folded]
    return problems
