"""Letters: batching, every statutory element read back from the PDF and the DOCX, refusals."""

from __future__ import annotations

import json
import re
import subprocess
import zipfile

import pytest
import yaml

from earwitness.kernel import settings
from notices import export, ledger, letter_tables, letters, render_docx, review
from notices.exceptions import MissingElements, NoticesError

from tests.notices.conftest import T0


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def _confirmed(s, seed, n=2, platform="fixture"):
    out = []
    for i in range(n):
        det = seed.detection(s, work_id=f"T{i + 1:03d}", seed=i + 3, platform=platform)
        out.append(review.confirm(s, det.id, actor="reviewer"))
    return out


def _agent(monkeypatch, home):
    monkeypatch.setenv("EARWITNESS__NOTICES__AGENT__NAME", "示例律师事务所 Example Law Firm")
    monkeypatch.setenv("EARWITNESS__NOTICES__AGENT__ADDRESS", "Shanghai")
    monkeypatch.setenv("EARWITNESS__NOTICES__AGENT__AUTHORISATION", "授权委托书 POA-2026-001")
    settings.configure(home)


# what must be read back from each rendered letter, beyond the case data
STATEMENTS = {
    "zh": ["侵权告知函", "信息网络传播权保护条例", "民法典", "示例音乐版权中心有限公司",
           "+861055550100", "copyright@example.com", "北京市朝阳区示例路100号",
           "删除、屏蔽、断开链接", "真实、准确", "法律责任", "代理人授权", "POA-2026-001"],
    "en": ["NoticeofCopyrightInfringement", "/s/WangFang,HeadofCopyrightProtection",
           "100ExampleRoad,ChaoyangDistrict", "+861055550100", "copyright@example.com",
           "goodfaithbelief", "notauthorizedbythecopyrightowner,itsagent,orthelaw",
           "underpenaltyofperjury", "accurate", "authorizedtoactonbehalfoftheowner",
           "removeordisableaccess", "POA-2026-001"],
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_element_in_pdf_and_docx(store, seed, home, tmp_path, monkeypatch, lang):
    _agent(monkeypatch, home)
    with store.session() as s:
        cs = _confirmed(s, seed, n=2)
        notice = letters.draft(s, platform="fixture", lang=lang, actor="legal")
        assert {c.state for c in cs} == {"notice_drafted"} and len(notice.cases) == 2
        pdf, = export.export(s, notice.id, "pdf", tmp_path)
        docx, = export.export(s, notice.id, "docx", tmp_path)
        assert set(notice.files) == {pdf.name, docx.name}
        content = notice.content
    for text in (_pdf_text(pdf), render_docx.text(docx)):
        flat = _squash(text)
        assert "\ufffd" not in text and "□" not in text
        for phrase in STATEMENTS[lang]:
            assert _squash(phrase) in flat, phrase
        for w in content["works"]:
            assert _squash(w["title"]) in flat and w["isrc"] in flat
        for it in content["items"]:
            assert it["url"] in flat
        for d in content["detections"]:
            assert d["bundle"]["manifest_sha256"] in flat
            for sha in d["bundle"]["files"].values():
                assert sha in flat
            assert f"{d['score']:.1f}" in flat and f"{d['tempo_ratio']:.3f}" in flat
            assert _squash(letter_tables.position_text(d, lang)) in flat    # the matched pair


def test_batches_one_letter_per_platform(store, seed):
    with store.session() as s:
        _confirmed(s, seed, n=2, platform="fixture")
        other = _confirmed(s, seed, n=1, platform="bilibili")
        n1 = letters.draft(s, platform="fixture", actor="legal")
        assert len(n1.cases) == 2 and n1.recipient == "copyright@fixture.invalid" and n1.lang == "zh"
        assert other[0].state == "confirmed"
        with pytest.raises(NoticesError, match="no confirmed cases"):
            letters.draft(s, platform="fixture", actor="legal")
        n2 = letters.draft(s, platform="bilibili", actor="legal", lang="en")
        assert [c.id for c in n2.cases] == [other[0].id]


def _holder(home, **values):
    """Override rights-holder fields in the home's settings file (empty strings: not given)."""
    (home / "earwitness.yaml").write_text(yaml.safe_dump({"notices": {"rights_holder": values}}), "utf-8")
    settings.configure(home)


REG14_1 = "《信息网络传播权保护条例》第十四条第一款第（一）项"


@pytest.mark.parametrize("lang,fields,missing", [
    ("zh", {"address": "", "address_zh": ""}, f"权利人的地址 ({REG14_1}): empty or absent: address"),
    ("zh", {"phone": ""}, None),          # email alone is a contact detail under Art. 14
    ("zh", {"phone": "", "email": ""}, f"权利人的联系方式 ({REG14_1}): none of phone, email given"),
    ("zh", {"registration_number": ""}, "权利人的真实身份信息（统一社会信用代码） (《民法典》第一千一百九十五条): "
                                        "empty or absent: registration_number"),
    ("en", {"phone": ""}, "(iv) complaining party's address, telephone number and email "
                          "(17 U.S.C. 512(c)(3)(A)(iv)): empty or absent: phone"),
    ("en", {"signature": "", "signature_zh": ""}, "(i) physical or electronic signature "
                                                  "(17 U.S.C. 512(c)(3)(A)(i)): empty or absent: signature"),
])
def test_letter_missing_an_element_refuses(store, seed, home, lang, fields, missing):
    _holder(home, **fields)
    with store.session() as s:
        cs = _confirmed(s, seed, n=1)
        if missing is None:
            letters.draft(s, platform="fixture", lang=lang, actor="legal")
            return
        with pytest.raises(MissingElements) as info:
            letters.draft(s, platform="fixture", lang=lang, actor="legal")
        assert info.value.missing == [missing] and missing in str(info.value)
        assert cs[0].state == "confirmed" and len(cs[0].events) == 1
    assert ledger.read(home) == []          # refused before any evidence was committed


def test_agent_without_authorisation_refuses(store, seed, home, monkeypatch):
    monkeypatch.setenv("EARWITNESS__NOTICES__AGENT__NAME", "Example Law Firm")
    settings.configure(home)
    with store.session() as s:
        _confirmed(s, seed, n=1)
        for lang in ("zh", "en"):
            with pytest.raises(MissingElements, match="authorisation"):
                letters.draft(s, platform="fixture", lang=lang, actor="legal")


def test_stored_letter_that_lost_an_element_refuses_to_render(store, seed, tmp_path):
    with store.session() as s:
        _confirmed(s, seed, n=1)
        notice = letters.draft(s, platform="fixture", lang="en", actor="legal")
        content = json.loads(json.dumps(notice.content))
        content["sections"] = [x for x in content["sections"] if x["element"] != "good_faith"]
        content["items"][0]["url"] = ""
        notice.content = content
        with pytest.raises(MissingElements) as info:
            export.export(s, notice.id, "pdf", tmp_path / "out")
        assert info.value.missing == [
            "(iii) identification of the infringing material with information to locate it "
            "(17 U.S.C. 512(c)(3)(A)(iii)): an item has no URL",
            "(v) good-faith statement (17 U.S.C. 512(c)(3)(A)(v)): no such section in the letter"]
        assert not (tmp_path / "out").exists()


def test_zip_holds_letter_evidence_and_manifest(store, seed, home, tmp_path):
    with store.session() as s:
        _confirmed(s, seed, n=2)
        notice = letters.draft(s, platform="fixture", actor="legal")
        z, = export.export(s, notice.id, "zip", tmp_path / "out")
    with zipfile.ZipFile(z) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read("manifest.json"))
        assert any(n.endswith(".pdf") for n in names) and any(n.endswith(".docx") for n in names)
        assert len(manifest["bundles"]) == 2
        for arc, meta in manifest["files"].items():
            import hashlib
            assert hashlib.sha256(zf.read(arc)).hexdigest() == meta["sha256"], arc
        assert sum(n.endswith("clip.wav") for n in names) == 2
        assert sum(n.endswith("screenshot.png") for n in names) == 2
    assert [p.name for p in (tmp_path / "out").iterdir()] == [z.name]


def test_sending_is_explicit_and_recorded(store, seed):
    with store.session() as s:
        cs = _confirmed(s, seed, n=2)
        notice = letters.draft(s, platform="fixture", actor="legal")
        assert notice.state == "draft" and all(c.sent_at is None for c in cs)
        letters.approve(s, notice.id, actor="legal")
        letters.mark_sent(s, notice.id, actor="legal", channel="email",
                          recipient="copyright@fixture.invalid", sent_at=T0)
        assert notice.state == "sent" and notice.channel == "email" and notice.sent_at == T0
        for c in cs:
            assert c.state == "notice_sent" and c.sent_at == T0
            ev = c.events[-1]
            assert ev.event == "send_notice" and ev.actor == "legal"
            assert ev.details["channel"] == "email" and ev.details["recipient"] == "copyright@fixture.invalid"
        with pytest.raises(NoticesError, match="not allowed"):
            letters.mark_sent(s, notice.id, actor="legal", channel="email", recipient="x", sent_at=T0)


def test_withdrawn_draft_returns_cases(store, seed):
    with store.session() as s:
        cs = _confirmed(s, seed, n=1)
        notice = letters.draft(s, platform="fixture", actor="legal")
        letters.withdraw(s, notice.id, actor="legal", reason="wrong template")
        assert notice.state == "withdrawn" and cs[0].state == "confirmed"
        with pytest.raises(NoticesError):
            letters.mark_sent(s, notice.id, actor="legal", channel="email", recipient="x", sent_at=T0)


@pytest.mark.parametrize("jurisdiction,lang", [("CN", "zh"), ("US", "en"), ("EU", "en")])
def test_twelve_items_every_required_element_read_back(store, seed, home, tmp_path, monkeypatch,
                                                       jurisdiction, lang):
    """A letter of 12 items with its title and identity annexes: every element the law asks for,
    with its content, read back from the PDF (pdftotext) and the DOCX."""
    from notices import jurisdictions
    _agent(monkeypatch, home)
    with store.session() as s:
        _confirmed(s, seed, n=12)
        notice = letters.draft(s, platform="fixture", lang=lang, jurisdiction=jurisdiction, actor="legal")
        assert (notice.jurisdiction, len(notice.cases)) == (jurisdiction, 12)
        pdf, = export.export(s, notice.id, "pdf", tmp_path)
        docx, = export.export(s, notice.id, "docx", tmp_path)
        content = notice.content
    required = {el.element for el in jurisdictions.get(jurisdiction).elements}
    pages = _pdf_text(pdf).split("\f")[:-1]
    assert len(pages) > 2
    for n, page in enumerate(pages, start=1):        # a running header and "page n of total" on each
        flat = _squash(page)
        assert _squash(f"{notice.id}") in flat
        assert (f"第{n}页/共{len(pages)}页" if lang == "zh" else f"Page{n}of{len(pages)}") in flat, n
    for text in (_pdf_text(pdf), render_docx.text(docx)):
        flat = _squash(text)
        for sec in content["sections"]:
            if sec["element"] not in required:
                continue
            shown = [sec["heading"], *sec["paragraphs"], *(f["value"] for f in sec["fields"] if f["value"])]
            assert any(x.strip() for x in shown) or sec["table"], sec["element"]
            for piece in shown:
                assert _squash(piece) in flat, (sec["element"], piece)
        assert len(content["items"]) == 12
        for it in content["items"]:
            assert it["url"] in flat
        for d in content["detections"]:
            assert d["bundle"]["manifest_sha256"] in flat
        for w in content["works"]:
            assert w["title_evidence"] and all(doc["sha256"] in flat for doc in w["title_evidence"])
        assert all(doc["sha256"] in flat for doc in content["identity"]) and content["identity"]
