"""DOCX rendering with python-docx: the letter as a document legal can edit.

East Asian text gets an East Asian font in the run properties (``w:eastAsia``),
so Word shows the Chinese in a CJK face rather than a fallback.
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

EAST_ASIA_FONT = "Noto Sans CJK SC"
LATIN_FONT = "Arial"


def _fonts(style_or_run) -> None:
    style_or_run.font.name = LATIN_FONT
    rpr = style_or_run.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), EAST_ASIA_FONT)


def write(block_list: list[tuple], path: Path, *, title: str = "") -> Path:
    doc = Document()
    doc.core_properties.title = title
    for name in ("Normal", "Title", "Heading 2"):
        _fonts(doc.styles[name])
    doc.styles["Normal"].font.size = Pt(10.5)
    for b in block_list:
        kind = b[0]
        if kind == "title":
            p = doc.add_paragraph(b[1], style="Title")
            p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        elif kind == "heading":
            doc.add_paragraph(b[1], style="Heading 2")
        elif kind == "para":
            doc.add_paragraph(b[1])
        elif kind == "small":
            run = doc.add_paragraph().add_run(b[1])
            run.font.size = Pt(7.5)
        elif kind == "table":
            columns, rows = b[1], b[2]
            t = doc.add_table(rows=1, cols=len(columns))
            t.style = "Table Grid"
            for cell, text in zip(t.rows[0].cells, columns):
                cell.text = str(text)
            for r in rows:
                for cell, text in zip(t.add_row().cells, r):
                    cell.text = str(text)
    doc.save(str(path))
    return path


def letter(content: dict, path: Path) -> Path:
    from notices.letters import blocks
    return write(blocks(content), path, title=content["title"])


def text(path: Path) -> str:
    """All paragraph and table text of a DOCX (to read a letter back)."""
    doc = Document(str(path))
    lines = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for row in t.rows:
            lines.append(" | ".join(c.text for c in row.cells))
    return "\n".join(lines)
