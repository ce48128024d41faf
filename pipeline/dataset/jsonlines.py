"""JSON read with the line each item starts on, so a bad entry of a manifest or a COCO file is named by its line.
The stdlib's decoder parses (and names the line of malformed JSON); this only walks the valid text again."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.errors import DatasetError


def load(path: Path) -> tuple[str, Any]:
    """(text, value) of a JSON file; malformed JSON is a DatasetError naming the file, line and column."""
    try:
        text = path.read_text(encoding="utf-8")
        return text, json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def items(text: str, key: str | None = None) -> list[tuple[Any, int]]:
    """The items of the top-level list (key None) or of the list under the top-level object's `key`, each with
    the line it starts on. `text` must be valid JSON with a list there."""
    start = _value_of(text, key) if key is not None else _skip_space(text, 0)
    decoder, rows, i = json.JSONDecoder(), [], _skip_space(text, start + 1)
    while text[i] != "]":
        value, end = decoder.raw_decode(text, i)
        rows.append((value, text.count("\n", 0, i) + 1))
        i = _skip_space(text, end)
        i = _skip_space(text, i + 1) if text[i] == "," else i
    return rows


def _value_of(text: str, wanted: str) -> int:
    """Where the value of the top-level object's key `wanted` starts (in valid JSON)."""
    decoder, i = json.JSONDecoder(), _skip_space(text, _skip_space(text, 0) + 1)
    while True:
        key, i = decoder.raw_decode(text, i)
        i = _skip_space(text, _skip_space(text, i) + 1)  # past the colon
        if key == wanted:
            return i
        _, i = decoder.raw_decode(text, i)
        i = _skip_space(text, _skip_space(text, i) + 1)  # past the comma


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i
