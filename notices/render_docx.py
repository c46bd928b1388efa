"""DOCX rendering with python-docx: the letter as a document legal can edit.

East Asian text gets an East Asian font in the run properties (``w:eastAsia``),
so Word shows the Chinese in a CJK face rather than a fallback. The page is A4
with the letter's running header and "page n of N" (Word fields) in the footer,
as the PDF; a table row never breaks across pages and the header row repeats. The
same letter renders to the same bytes (fixed zip times), as the PDF does.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.oxml import OxmlElement
from docx.shared import Mm, Pt

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


PAGE_LABEL = {"zh": ("第 ", " 页 / 共 ", " 页"), "en": ("Page ", " of ", "")}


def _field(run, instruction: str) -> None:
    """A Word field (PAGE, NUMPAGES) in ``run``: Word fills in the number."""
    for kind, text in (("begin", None), ("instr", instruction), ("separate", None), ("text", "1"), ("end", None)):
        if kind == "instr":
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = f" {text} "
        elif kind == "text":
            el = OxmlElement("w:t")
            el.text = text
        else:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        run._r.append(el)


def _page_setup(doc, header: str, lang: str) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(18))
    if header:
        hp = section.header.paragraphs[0]
        run = hp.add_run(header)
        run.font.size = Pt(7.5)
        _fonts(run)
    fp = section.footer.paragraphs[0]
    fp.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    before, middle, after = PAGE_LABEL.get(lang, PAGE_LABEL["en"])
    for piece, field in ((before, "PAGE"), (middle, "NUMPAGES"), (after, None)):
        if piece:
            r = fp.add_run(piece)
            r.font.size = Pt(7.5)
            _fonts(r)
        if field:
            r = fp.add_run()
            r.font.size = Pt(7.5)
            _field(r, field)


CELL_PT = 7.8
TEXT_WIDTH_PT = (210 - 2 * 18) / 25.4 * 72      # A4 less the margins


def _column_widths(columns: list[str], rows: list[list[str]]) -> list[float]:
    """The PDF's column widths (each at least its widest unbreakable word), so an id or a number
    fits its cell in Word too and is not broken inside."""
    from notices import render_pdf
    return render_pdf.column_widths(columns, rows, render_pdf.styles()["cell"], TEXT_WIDTH_PT)


def _keep_rows_whole(table) -> None:
    """No row breaks across a page; the first row repeats on each page."""
    for i, row in enumerate(table.rows):
        trpr = row._tr.get_or_add_trPr()
        trpr.append(OxmlElement("w:cantSplit"))
        if i == 0:
            trpr.append(OxmlElement("w:tblHeader"))


def write(block_list: list[tuple], path: Path, *, title: str = "", header: str = "", lang: str = "en") -> Path:
    doc = Document()
    doc.core_properties.title = title
    _page_setup(doc, header, lang)
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
            t.autofit = False
            widths = _column_widths(columns, rows)
            for row_cells, texts in [(t.rows[0].cells, columns)] + [(t.add_row().cells, r) for r in rows]:
                for cell, text, width in zip(row_cells, texts, widths):
                    cell.width = Pt(width)
                    run = cell.paragraphs[0].add_run(str(text))
                    run.font.size = Pt(CELL_PT)
            _keep_rows_whole(t)
    doc.save(str(path))
    _fix_zip_times(path)
    return path


def _fix_zip_times(path: Path) -> None:
    """Rewrite the DOCX's zip members with one fixed time (python-docx stamps each with "now"), so the
    same letter renders to the same bytes and a revision's recorded SHA-256 names its file."""
    with zipfile.ZipFile(path) as zf:
        members = [(info, zf.read(info)) for info in zf.infolist()]
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as out:
        for info, data in members:
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type, fixed.external_attr = zipfile.ZIP_DEFLATED, info.external_attr
            out.writestr(fixed, data)
    tmp.replace(path)


def letter(content: dict, path: Path) -> Path:
    from notices.letters import blocks
    from notices.render_pdf import running_header
    return write(blocks(content), path, title=content["title"], header=running_header(content),
                 lang=content["lang"])


def text(path: Path) -> str:
    """All paragraph and table text of a DOCX (to read a letter back)."""
    doc = Document(str(path))
    lines = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for row in t.rows:
            lines.append(" | ".join(c.text for c in row.cells))
    return "\n".join(lines)
