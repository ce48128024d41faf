"""Turning benchmark sections into Markdown."""
from __future__ import annotations

from bench.common import Section, markdown_table, met_word


def section_markdown(section: Section, level: str = "##") -> list[str]:
    lines = [f"{level} {section.title}", "", section.about.strip(), ""]
    if section.checks:
        lines += markdown_table(["figure", "value", "target", "met"],
                                [[c.name, c.value, c.target, met_word(c.met)] for c in section.checks])
        lines.append("")
    for caption, header, rows in section.tables:
        lines += [f"{caption}:", ""] + markdown_table(header, rows) + [""]
    for note in section.notes:
        lines += [note, ""]
    return lines


def print_section(section: Section) -> None:
    print("\n".join(section_markdown(section)))
