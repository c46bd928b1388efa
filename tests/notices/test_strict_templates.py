"""Issue 12, failure 3: completeness is checked on the rendered letter, templates are strict.

Before, an unknown placeholder printed a blank line, a template without the items
table drafted a letter with no URLs, a negated statement passed the keyword check,
and a letter without its signature block rendered. Each is now refused before
anything is drafted, and the refusal names the element and the law.
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from earwitness.kernel import settings
from notices import export, ledger, letters, review
from notices.exceptions import MissingElements, NoticesError

REG14 = "《信息网络传播权保护条例》第十四条"


def _templates(home, edit_cn=None, edit_statements=None):
    """A copy of the template library in the home, edited, and the settings pointing at it."""
    folder = home / "templates"
    shutil.copytree(settings.CONFIG_DIR / "templates", folder)
    if edit_cn:
        path = folder / "CN-zh.yaml"
        data = yaml.safe_load(path.read_text("utf-8"))
        edit_cn(data)
        path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    if edit_statements:
        path = folder / "statements.yaml"
        path.write_text(edit_statements(path.read_text("utf-8")), "utf-8")
    (home / "earwitness.yaml").write_text(yaml.safe_dump({"notices": {"template_dir": str(folder)}}), "utf-8")
    settings.configure(home)


def _section(data, element):
    return next(s for s in data["sections"] if s["element"] == element)


def _refused(store, seed, home, exc=MissingElements):
    with store.session() as s:
        det = seed.detection(s)
        case = review.confirm(s, det.id, actor="reviewer")
        with pytest.raises(exc) as info:
            letters.draft(s, platform="fixture", lang="zh", actor="legal")
        assert case.state == "confirmed" and len(case.events) == 1
    assert ledger.read(home) == []            # refused before any evidence was committed
    return info.value


def test_unknown_placeholder_is_an_error_not_a_blank(store, seed, home):
    def typo(data):
        _section(data, "rights_holder")["fields"][-1]["value"] = "{{ adress_zh }}"
    _templates(home, edit_cn=typo)
    err = _refused(store, seed, home, NoticesError)
    assert "adress_zh" in str(err) and "rights_holder" in str(err) and "address" in str(err)


def test_template_without_the_items_table_is_refused(store, seed, home):
    _templates(home, edit_cn=lambda d: d["sections"].remove(_section(d, "items")))
    err = _refused(store, seed, home)
    assert err.missing == [f"侵权作品的网络地址 ({REG14}第一款第（二）项): no such section in the letter"]


def test_template_rewording_a_statement_is_refused(store, seed, home):
    def negate(data):
        sec = _section(data, "truthfulness")
        del sec["statement"]
        sec["text"] = "权利人不保证本通知内容真实、准确，不承担任何法律责任。"
    _templates(home, edit_cn=negate)
    err = _refused(store, seed, home)
    assert err.missing == [f"权利人对通知书的真实性负责的声明 ({REG14}第二款): "
                           "the fixed statement cn.truthfulness is not there"]


def test_statement_library_edited_without_a_new_hash_is_refused(store, seed, home):
    _templates(home, edit_statements=lambda t: t.replace("权利人保证本通知内容真实", "权利人不保证本通知内容真实"))
    err = _refused(store, seed, home, NoticesError)
    assert "cn.truthfulness" in str(err) and "does not match its recorded SHA-256" in str(err)


def test_letter_without_the_signature_block_is_refused(store, seed, home):
    _templates(home, edit_cn=lambda d: d["sections"].remove(_section(d, "signature")))
    err = _refused(store, seed, home)
    assert err.missing == [f"权利人签名或者盖章（书面通知） ({REG14}): no such section in the letter"]


def test_stored_letter_with_an_altered_statement_refuses_to_render(store, seed, tmp_path):
    with store.session() as s:
        review.confirm(s, seed.detection(s).id, actor="reviewer")
        notice = letters.draft(s, platform="fixture", lang="zh", actor="legal")
        content = json.loads(json.dumps(notice.content))
        _section(content, "truthfulness")["paragraphs"] = ["权利人不保证本通知内容真实。"]
        notice.content = content
        with pytest.raises(MissingElements, match="cn.truthfulness was altered"):
            export.export(s, notice.id, "pdf", tmp_path / "out")
