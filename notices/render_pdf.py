"""PDF rendering with reportlab: letters and reports, Chinese drawn with an embedded CJK font.

reportlab embeds TrueType outlines only, so the font is the first loadable entry
of ``notices.pdf_fonts`` (WenQuanYi Zen Hei by default; Noto CJK's CFF outlines
are refused by reportlab). Text stays text: ``pdftotext`` gets the Chinese back.
"""

from __future__ import annotations

import re
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont, TTFError
from reportlab.pdfgen import canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table, TableStyle
from xml.sax.saxutils import escape

from notices import config
from notices.exceptions import NoticesError

FONT_NAME = "EarwitnessCJK"
_loaded: str | None = None


def cjk_font() -> str:
    """Register the first usable CJK TrueType font; its reportlab name."""
    global _loaded
    if _loaded:
        return _loaded
    tried = []
    for path in config.get("pdf_fonts") or ():
        if not Path(path).is_file():
            tried.append(f"{path} (absent)")
            continue
        try:
            kw = {"subfontIndex": 0} if str(path).endswith(".ttc") else {}
            pdfmetrics.registerFont(TTFont(FONT_NAME, path, **kw))
        except TTFError as exc:
            tried.append(f"{path} ({exc})")
            continue
        _loaded = FONT_NAME
        return _loaded
    raise NoticesError("no usable CJK TrueType font for PDFs; tried: " + "; ".join(tried)
                       + " (install fonts-wqy-zenhei: scripts/setup.sh)")


def styles() -> dict[str, ParagraphStyle]:
    f = cjk_font()
    base = ParagraphStyle("body", fontName=f, fontSize=10.5, leading=15, wordWrap="CJK")
    cell = ParagraphStyle("cell", parent=base, fontSize=7.8, leading=10)
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=17, leading=24, alignment=TA_CENTER,
                                spaceAfter=8),
        "heading": ParagraphStyle("heading", parent=base, fontSize=12, leading=17, spaceBefore=8,
                                  spaceAfter=3, keepWithNext=1),
        "para": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.2, leading=9.5, wordWrap=None),
        "cell": cell,
        # ids, numbers, hashes, times: lines break only between words, never inside one
        "cell_words": ParagraphStyle("cell_words", parent=cell, wordWrap=None),
    }


_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
_WORD = re.compile(r"[0-9A-Za-z]{3,}")
CELL_PADDING = 12        # reportlab's table cell padding, left + right


def keeps_words(text: str) -> bool:
    """A cell that must never break inside a word: anything but plain East Asian prose.

    East Asian prose breaks between characters; a cell holding Latin words, ids,
    numbers or times breaks only at spaces, so ``01J...`` or ``85.000`` stays whole.
    """
    return not _CJK.search(text) or bool(_WORD.search(text))


def _widest_word(text: str, style: ParagraphStyle) -> float:
    words = text.split() if keeps_words(text) else [ch for ch in text if not ch.isspace()]
    return max((stringWidth(w, style.fontName, style.fontSize) for w in words), default=0.0)


def column_widths(columns: list[str], rows: list[list[str]], style: ParagraphStyle, width: float) -> list[float]:
    """Widths that share ``width`` by each column's text, each at least its widest unbreakable word."""
    cells = [[str(c)] + [str(r[i]) for r in rows] for i, c in enumerate(columns)]
    need = [max(_widest_word(t, style) for t in col) + CELL_PADDING for col in cells]
    weight = [min(24, max(6, *(len(w) for w in col[0].split()), *(len(t) for t in col[1:])))
              for col in cells]
    share = [max(n, width * w / sum(weight)) for n, w in zip(need, weight)]
    extra = sum(share) - width
    if extra > 0:           # take the excess from the columns above their need, in proportion
        slack = [s - n for s, n in zip(share, need)]
        total = sum(slack)
        if total > 0:
            share = [s - extra * sl / total for s, sl in zip(share, slack)]
    return share


def table(columns: list[str], rows: list[list[str]], st: dict, width: float) -> Table:
    def cell(v) -> Paragraph:
        text = str(v)
        return Paragraph(escape(text), st["cell_words"] if keeps_words(text) else st["cell"])

    data = [[cell(c) for c in columns]] + [[cell(v) for v in r] for r in rows]
    t = Table(data, colWidths=column_widths(columns, rows, st["cell"], width), repeatRows=1)
    t.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("NOSPLIT", (0, 0), (-1, -1)) if len(rows) < 6 else ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return t


def flowables(block_list: list[tuple], st: dict, width: float) -> list[Flowable]:
    out: list[Flowable] = []
    for b in block_list:
        kind = b[0]
        if kind == "table":
            t = table(b[1], b[2], st, width)
            t.spaceBefore, t.spaceAfter = 3, 4     # no spacer between a heading and its table (kept together)
            out.append(t)
        elif kind == "flowable":
            out.append(b[1])
        else:
            out.append(Paragraph(escape(b[1]), st[kind]))
    return out


PAGE_LABEL = {"zh": "第 {n} 页 / 共 {total} 页", "en": "Page {n} of {total}"}


def _paged_canvas(header: str, lang: str):
    """A canvas class that draws the running header and "page n of total" on every page.

    The total is known only at the end, so pages are kept until ``save`` (reportlab's
    usual two-step numbering).
    """
    font = cjk_font()

    class PagedCanvas(canvas.Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):      # noqa: N802 - reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for n, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                width, height = self._pagesize
                self.setFont(font, 7.5)
                self.setFillColor(colors.grey)
                if header:
                    self.drawString(18 * mm, height - 11 * mm, header)
                self.drawRightString(width - 18 * mm, 10 * mm,
                                     PAGE_LABEL.get(lang, PAGE_LABEL["en"]).format(n=n, total=total))
                super().showPage()
            super().save()

    return PagedCanvas


def write(block_list: list[tuple], path: Path, *, title: str = "", author: str = "", header: str = "",
          lang: str = "en") -> Path:
    """Draw ``(kind, ...)`` blocks (see :func:`notices.letters.blocks`) into an A4 PDF, each page
    with the running ``header`` and its number."""
    st = styles()
    # invariant: no creation time or random id in the file, so the same letter renders to the same
    # bytes and the SHA-256 recorded for a revision names its file whenever it is exported again
    doc = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm,
                            topMargin=18 * mm, bottomMargin=18 * mm, title=title, author=author, invariant=1)
    doc.build(flowables(block_list, st, doc.width), canvasmaker=_paged_canvas(header, lang))
    return path


def running_header(content: dict) -> str:
    """The line at the top of every page of a letter: sender, title, reference."""
    ref = "函件编号" if content["lang"] == "zh" else "Reference"
    holder = content["rights_holder"].get("name_zh" if content["lang"] == "zh" else "name") \
        or content["rights_holder"].get("name", "")
    return f"{holder} · {content['title']} · {ref} {content['notice_id']}"


def letter(content: dict, path: Path) -> Path:
    from notices.letters import blocks
    return write(blocks(content), path, title=content["title"], author=content["rights_holder"].get("name", ""),
                 header=running_header(content), lang=content["lang"])
