"""The project folder that `cvops export` writes and `cvops import` reads:

    FOLDER/project.json      the project's settings, tags, iterations and their performance (a record)
    FOLDER/manifest.json     every image: path, tags, sha256, size, source id ({"images": [...]}, the manifest
                             layout of the pipeline, so the folder is also a dataset: `layout: manifest`)
    FOLDER/images/TAG/ID.jpg a Multiclass project's images, one folder per tag (`layout: folder-per-tag`)
    FOLDER/images/ID.jpg     a Multilabel or object detection project's images (their tags, and an object
                             detection image's regions, are in the manifest)
    FOLDER/untagged/ID.jpg   images without tags
    FOLDER/.cvops-export.jsonl  the journal: one line per image once its bytes are on disk

Every file lands atomically (written beside, then renamed), and the journal is appended after it, so a killed
export leaves whole files and a journal that names only whole files. Nothing is fsynced: what a power cut
might tear, the next run finds by its hash and downloads again."""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.dataset.scan import file_sha256
from pipeline.dataset.sources import write_atomically
from pipeline.errors import DatasetError

FORMAT = "cvops-project/1"
PROJECT_FILE = "project.json"
MANIFEST_FILE = "manifest.json"
JOURNAL_FILE = ".cvops-export.jsonl"
IMAGES_DIR = "images"
UNTAGGED_DIR = "untagged"
EXTENSIONS = {b"\xff\xd8\xff": ".jpg", b"\x89PNG": ".png", b"BM": ".bmp", b"GIF8": ".gif"}
_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]')


@dataclass
class ExportedImage:
    id: str               # the image's id in the source project
    path: str             # relative to the folder, with forward slashes
    tags: list[str] = field(default_factory=list)
    sha256: str = ""
    size: int = 0
    # object detection: [{tag, left, top, width, height}], normalised to the image (its tags are these regions')
    regions: list[dict[str, Any]] = field(default_factory=list)


def extension(data: bytes) -> str:
    """The file extension for an image's bytes (".bin" when it is none of Custom Vision's formats)."""
    return next((ext for magic, ext in EXTENSIONS.items() if data.startswith(magic)), ".bin")


def folder_names(tags: list[str]) -> dict[str, str]:
    """A folder name for each tag that any file system takes, distinct even where two tags clean up the same."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for tag in sorted(tags):
        base = _UNSAFE.sub("_", tag).strip().rstrip(".") or "_"
        base = "_" + base[1:] if base.startswith(".") else base
        name, n = base, 2
        while name.lower() in taken:
            name, n = f"{base}-{n}", n + 1
        taken.add(name.lower())
        names[tag] = name
    return names


class ProjectFolder:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_FILE

    def relative_path(self, classification_type: str, image_id: str, tags: list[str], ext: str,
                      tag_folders: dict[str, str]) -> str:
        """Where an image goes: its tag's folder (Multiclass), `images/` (Multilabel, or "ObjectDetection") or
        `untagged/`."""
        if not tags:
            return f"{UNTAGGED_DIR}/{image_id}{ext}"
        if classification_type == "Multiclass" and len(tags) == 1:
            return f"{IMAGES_DIR}/{tag_folders[tags[0]]}/{image_id}{ext}"
        return f"{IMAGES_DIR}/{image_id}{ext}"

    def holds(self, image: ExportedImage) -> bool:
        """Whether the image's file is there with the bytes the journal recorded (hashed again)."""
        path = self.root / image.path
        if not path.is_file() or path.stat().st_size != image.size:
            return False
        return file_sha256(path)[0] == image.sha256

    # The journal ---------------------------------------------------------------------------------------------
    def start_journal(self, source: dict[str, Any]) -> dict[str, ExportedImage]:
        """The images already downloaded by an earlier run for the same source project (by source image id).

        A folder that holds something else (another project's export, unrelated files) is refused."""
        self.root.mkdir(parents=True, exist_ok=True)
        for partial in self.root.rglob(".part-*"):  # a write cut short by a kill
            partial.unlink(missing_ok=True)
        journal = self.root / JOURNAL_FILE
        if not journal.exists():
            project = self._read_json(self.root / PROJECT_FILE) if (self.root / PROJECT_FILE).exists() else None
            others = [p.name for p in self.root.iterdir() if not p.name.startswith(".")]
            if project is None and others:
                raise DatasetError(f"{self.root} is not empty and holds no export ({', '.join(sorted(others)[:5])}"
                                   "): choose an empty or new folder")
            if project is not None:
                self._same_source(project.get("source", {}), source)
            with open(journal, "a", encoding="utf-8") as out:
                out.write(json.dumps({"source": source}) + "\n")
            # A finished export copied without its journal: its manifest says what is there (hashes checked).
            return {image.id: image for image in self.read_manifest()} if project is not None else {}
        entries: dict[str, ExportedImage] = {}
        with open(journal, encoding="utf-8") as lines:
            for number, line in enumerate(lines):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line torn by a kill: the file it named is downloaded again
                if number == 0:
                    self._same_source(record.get("source", {}), source)
                    continue
                if "removed" in record:
                    entries.pop(record["removed"], None)
                else:
                    entries[record["id"]] = ExportedImage(**record)
        return entries

    def _same_source(self, found: dict[str, Any], source: dict[str, Any]) -> None:
        if found.get("project_id") != source["project_id"]:
            raise DatasetError(f"{self.root} holds an export of another project ({found.get('project_name')!r}, "
                               f"{found.get('project_id')}): choose another folder")

    def record(self, image: ExportedImage) -> None:
        self._append(asdict(image))

    def record_removed(self, image_id: str) -> None:
        self._append({"removed": image_id})

    def _append(self, record: dict[str, Any]) -> None:
        with open(self.root / JOURNAL_FILE, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

    # project.json and manifest.json --------------------------------------------------------------------------
    def write_project(self, description: dict[str, Any]) -> None:
        write_atomically(self.root / PROJECT_FILE, json.dumps(description, indent=2).encode())

    def write_manifest(self, images: list[ExportedImage]) -> None:
        body = {"format": FORMAT, "images": [asdict(image) for image in images]}
        write_atomically(self.manifest_path, json.dumps(body, indent=1).encode())

    def read_project(self) -> dict[str, Any]:
        path = self.root / PROJECT_FILE
        if not path.is_file():
            hint = " (an export that did not finish: run `cvops export` again)" if (self.root / JOURNAL_FILE).exists() \
                else ""
            raise DatasetError(f"{path}: not found; is {self.root} a folder written by `cvops export`?{hint}")
        project = self._read_json(path)
        if project.get("format") != FORMAT:
            raise DatasetError(f"{path}: format {project.get('format')!r}, this cvops reads {FORMAT!r}")
        return project

    def read_manifest(self) -> list[ExportedImage]:
        body = self._read_json(self.manifest_path)
        try:
            return [ExportedImage(id=str(item.get("id", "")), path=item["path"], tags=list(item.get("tags", [])),
                                  sha256=item.get("sha256", ""), size=int(item.get("size", 0)),
                                  regions=[_region(r) for r in item.get("regions") or []])
                    for item in body["images"]]
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise DatasetError(f"{self.manifest_path}: an entry lacks {exc}; expected "
                               '{"images": [{"path": ..., "tags": [...], "sha256": ...}]}') from None

    @staticmethod
    def _read_json(path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DatasetError(f"{path}: not found") from None
        except (ValueError, OSError) as exc:
            raise DatasetError(f"{path}: cannot be read: {exc}") from None


def _region(found: Any) -> dict[str, Any]:
    """A manifest's region, checked: {tag, left, top, width, height} (KeyError/TypeError/ValueError if not)."""
    return {"tag": str(found["tag"]), **{k: float(found[k]) for k in ("left", "top", "width", "height")}}
