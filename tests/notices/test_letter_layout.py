"""Letters that look sent by a law firm (issue 12): A4, running header and page numbers in the PDF and the
DOCX, hashes in an annex and not in the body, ids and numbers never split in a table, no internal keys,
the East Asian font in the DOCX, positions quoted as matched pairs, each exported file's hash per revision."""

from __future__ import annotations

import re
import subprocess
import zipfile

import pytest
from docx import Document
from docx.oxml.ns import qn

from earwitness.kernel import settings
from notices import cases, export, letter_tables, letters, render_docx, review

HEX64 = re.compile(r"\b[0-9a-f]{64}\b")
ANNEX_HEADING = {"zh": "附件一", "en": "Annex 1"}


def _lines(pdf) -> list[str]:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout.splitlines()


def _keys(value) -> set[str]:
    """Every dict key of the letter's frozen data, at any depth (the internal names)."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@pytest.fixture
def twelve(store, seed, home, monkeypatch):
    monkeypatch.setenv("EARWITNESS__NOTICES__AGENT__NAME", "示例律师事务所 Example Law Firm")
    monkeypatch.setenv("EARWITNESS__NOTICES__AGENT__ADDRESS", "Shanghai")
    monkeypatch.setenv("EARWITNESS__NOTICES__AGENT__AUTHORISATION", "授权委托书 POA-2026-001")
    settings.configure(home)

    def make(s, lang):
        for i in range(12):
            det = seed.detection(s, work_id=f"T{i + 1:03d}", seed=i + 3)
            review.confirm(s, det.id, actor="auto-confirm" if i == 0 else "reviewer")
        return letters.draft(s, platform="fixture", lang=lang, actor="legal")
    return make


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pdf_reads_like_a_firms_letter(store, twelve, tmp_path, lang):
    with store.session() as s:
        notice = twelve(s, lang)
        pdf, = export.export(s, notice.id, "pdf", tmp_path)
        content = notice.content
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert "(A4)" in info
    lines = _lines(pdf)
    text = "\n".join(lines)
    # hashes only in the annexes: none before the first annex heading
    first_annex = next(i for i, x in enumerate(lines) if x.strip().startswith(ANNEX_HEADING[lang]))
    assert not HEX64.search("\n".join(lines[:first_annex]))
    assert len(HEX64.findall("\n".join(lines[first_annex:]))) >= 12 * 5
    # every id and number of the tables whole on one line (never broken inside a cell)
    whole = {notice.id, *(w["id"] for w in content["works"]), *(w["isrc"] for w in content["works"])}
    for d in content["detections"]:
        whole |= {d["media_id"], d["bundle"]["id"], f"{d['score']:.1f}", f"{d['tempo_ratio']:.3f}",
                  f"{d['pitch_semitones']:+.2f}", d["bundle"]["manifest_sha256"], *d["bundle"]["files"].values()}
        p = letter_tables.pair(d)
        whole |= {f"{p['clip_start_s']:.2f}–{p['clip_end_s']:.2f}", f"{p['work_start_s']:.2f}–{p['work_end_s']:.2f}"}
    for token in whole:
        assert any(token in line for line in lines), token
    # positions as matched pairs, with the transform beside them
    assert ("片段 0.50–15.50 秒 ↔ 作品" if lang == "zh" else "clip 0.50–15.50 s ↔ work") in text
    # no internal keys: no name of the letter's data, no program name shown as a person, no Python values
    for key in (k for k in _keys(content) if "_" in k):
        assert key not in text, key
    for leak in ("auto-confirm,", "auto-confirm，", "None", "{", "}", "[]", "True", "False"):
        assert leak not in text, leak
    assert letter_tables.WORDS[lang]["auto"][:12] in text.replace("\n", "")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_docx_on_a4_with_header_page_numbers_and_east_asian_font(store, twelve, tmp_path, lang):
    with store.session() as s:
        notice = twelve(s, lang)
        docx, = export.export(s, notice.id, "docx", tmp_path)
        content = notice.content
    doc = Document(str(docx))
    sec = doc.sections[0]
    assert (round(sec.page_width.mm), round(sec.page_height.mm)) == (210, 297)      # A4 (Word keeps twips)
    assert notice.id in sec.header.paragraphs[0].text
    footer_xml = sec.footer._element.xml
    assert "PAGE" in footer_xml and "NUMPAGES" in footer_xml
    for name in ("Normal", "Title", "Heading 2"):
        rfonts = doc.styles[name].element.rPr.find(qn("w:rFonts"))
        assert rfonts.get(qn("w:eastAsia")) == render_docx.EAST_ASIA_FONT, name
    for table in doc.tables:
        for i, row in enumerate(table.rows):
            trpr = row._tr.trPr
            assert trpr is not None and trpr.find(qn("w:cantSplit")) is not None
        assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None
    body = render_docx.text(docx)
    assert not HEX64.search(body.split(ANNEX_HEADING[lang])[0])
    for d in content["detections"]:
        assert letter_tables.position_text(d, lang) in body


def test_each_exported_file_hash_is_kept_per_revision(store, twelve, tmp_path):
    with store.session() as s:
        notice = twelve(s, "en")
        pdf, = export.export(s, notice.id, "pdf", tmp_path / "r1")
        first = dict(notice.files)
        assert first == {pdf.name: export.ledger.file_sha256(pdf)}
        cases.apply(s, notice.cases[0].id, "withdraw", actor="legal", reason="licence found")
        revised = letters.get_notice(s, notice.superseded_by_id)
        pdf2, = export.export(s, revised.id, "pdf", tmp_path / "r2")
        assert notice.files == first                                 # the old revision keeps its file's hash
        assert revised.files == {pdf2.name: export.ledger.file_sha256(pdf2)} and pdf2.name != pdf.name
        revise = next(e for e in notice.events if e.event == "revise")
        assert revise.details["files"] == first


def test_zip_letter_members_are_the_hashed_ones(store, twelve, tmp_path):
    with store.session() as s:
        notice = twelve(s, "zh")
        z, = export.export(s, notice.id, "zip", tmp_path)
    with zipfile.ZipFile(z) as zf:
        names = zf.namelist()
    assert any(n.endswith(".pdf") for n in names) and any(n.endswith(".docx") for n in names)


def test_the_same_revision_renders_to_the_same_bytes(store, twelve, tmp_path):
    """Exported again, a letter is the file whose SHA-256 its revision recorded (no render time inside)."""
    with store.session() as s:
        notice = twelve(s, "zh")
        first = {p.name: export.ledger.file_sha256(p) for fmt in ("pdf", "docx")
                 for p in export.export(s, notice.id, fmt, tmp_path / "a")}
        again = {p.name: export.ledger.file_sha256(p) for fmt in ("pdf", "docx")
                 for p in export.export(s, notice.id, fmt, tmp_path / "b")}
        assert first == again == notice.files
    assert Document(str(next((tmp_path / "b").glob("*.docx")))).sections[0].header.paragraphs[0].text


def test_docx_columns_fit_their_widest_word(store, twelve, tmp_path):
    """Word breaks a word only when it does not fit its cell: every cell is at least as wide as its
    widest id, number or hash-free word (widths as in the PDF)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from notices import render_pdf
    with store.session() as s:
        notice = twelve(s, "en")
        docx, = export.export(s, notice.id, "docx", tmp_path)
    font = render_pdf.cjk_font()
    for table in Document(str(docx)).tables:
        for row in table.rows:
            for cell in row.cells:
                words = [w for w in cell.text.split() if render_pdf.keeps_words(w)]
                widest = max((stringWidth(w, font, render_docx.CELL_PT) for w in words), default=0)
                assert cell.width is not None and cell.width.pt >= widest, (cell.text, cell.width.pt, widest)
