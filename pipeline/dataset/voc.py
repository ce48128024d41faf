"""Pascal VOC: one XML file an image (LabelImg, CVAT's and Roboflow's VOC export), boxes in pixels as
`object/bndbox/{xmin, ymin, xmax, ymax}` under `object/name`, the image's size as `size/{width, height}`.

    PATH/images/NAME.jpg + PATH/annotations/NAME.xml   (dataset.images / dataset.annotations)
    PATH/NAME.jpg + PATH/NAME.xml                      (LabelImg's default: side by side)

The XML is parsed with defusedxml (no DTDs, no entity expansion: no XXE, no billion laughs); a malformed file is
named with its line. An annotation is matched to its image by file stem; an image without one has no boxes."""
from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import parse

from pipeline.config import DatasetConfig
from pipeline.dataset.annotations import Annotated, Drawn, Reading, folder_in, hidden
from pipeline.dataset.scan import IMAGE_SUFFIXES
from pipeline.errors import DatasetError


def read(config: DatasetConfig, root: Path) -> Reading:
    if not root.is_dir():
        raise DatasetError(f"{root}: a pascal-voc dataset is a folder (images and .xml annotations)")
    images_dir = folder_in(root, config.images, "images")
    xml_dir = folder_in(root, config.annotations, "annotations", fallback=images_dir)
    reading = Reading([], images_dir, labels=None)
    images = {p.stem: p for p in sorted(images_dir.rglob("*"))
              if p.suffix.lower() in IMAGE_SUFFIXES and not hidden(p, images_dir)}
    annotated: dict[str, Annotated] = {}
    for xml in sorted(xml_dir.rglob("*.xml")):
        if hidden(xml, xml_dir):
            continue
        image = images.get(xml.stem)
        found = _annotation(xml, image, images_dir, reading.problems)
        if found is None:
            continue
        if found.image.stem in annotated:
            reading.problems.append(f"{xml}: names {found.image.name}, which "
                                    f"{annotated[found.image.stem].where} annotates already")
            continue
        annotated[found.image.stem] = found
    for stem, image in images.items():
        reading.images.append(annotated.get(stem) or Annotated(image, str(image)))
    return reading


def _annotation(xml: Path, image: Path | None, images_dir: Path, problems: list[str]) -> Annotated | None:
    try:
        tree = parse(xml)
    except ParseError as exc:
        line, column = exc.position
        problems.append(f"{xml}:{line}: malformed XML: {str(exc).split(':')[0]} (column {column + 1})")
        return None
    except DefusedXmlException as exc:
        problems.append(f"{xml}: refused: {exc} (a VOC file has no DTD or entities)")
        return None
    root = tree.getroot()
    if root.tag != "annotation":
        problems.append(f"{xml}: not a Pascal VOC annotation (its root is <{root.tag}>, not <annotation>)")
        return None
    if image is None:
        named = (root.findtext("filename") or "").strip()
        candidate = images_dir / named if named else None
        if candidate is None or not candidate.is_file():
            problems.append(f"{xml}: no image {xml.stem}.* in {images_dir}" + (f" (nor {named})" if named else ""))
            return None
        image = candidate
    size = (_number(root, "size/width"), _number(root, "size/height"))
    drawn = []
    for index, obj in enumerate(root.iter("object"), 1):
        where = f"{xml}: object {index}"
        label = (obj.findtext("name") or "").strip()
        box = obj.find("bndbox")
        values = [_number(box, key) if box is not None else None for key in ("xmin", "ymin", "xmax", "ymax")]
        if not label:
            problems.append(f"{where}: no <name> (the label)")
        elif any(v is None for v in values):
            problems.append(f"{where}: {label}: <bndbox> needs numbers xmin, ymin, xmax, ymax")
        else:
            drawn.append(Drawn(where, label, tuple(values), "corners"))
    return Annotated(image, str(xml), drawn, size if all(size) else None)


def _number(element: Element | None, path: str) -> float | None:
    text = (element.findtext(path) or "").strip() if element is not None else ""
    try:
        return float(text)
    except ValueError:
        return None
