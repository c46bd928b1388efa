"""What a takedown letter must contain, per jurisdiction, checked on the rendered letter.

Each :class:`Element` names a part of the letter the law asks for, the law, and
what must be there: a section of that element with non-empty content, with
non-empty fields, a table with rows, or a fixed statement of the library whose
text still matches its hash. The check reads the letter's rendered structure
(``content["sections"]``), not the configuration, so a template that drops the
items table, leaves a field empty, or rewords a statement yields a letter that
is not drafted, and the refusal names the element and the law.

Jurisdictions: ``CN`` (《信息网络传播权保护条例》第十四条, 《民法典》第一千一百九十五条),
``US`` (17 U.S.C. 512(c)(3)(A)), ``EU`` (Regulation (EU) 2022/2065 (DSA) Art. 16(2),
Directive (EU) 2019/790 Art. 17(4)(c)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from notices import letter_tables
from notices.templates import text_sha256

REG14 = "《信息网络传播权保护条例》第十四条"
CC1195 = "《民法典》第一千一百九十五条"
DMCA = "17 U.S.C. 512(c)(3)(A)"
DSA = "Regulation (EU) 2022/2065 (Digital Services Act) Art. 16(2)"
CDSM = "Directive (EU) 2019/790 Art. 17(4)(c)"


@dataclass(frozen=True)
class Element:
    element: str                 # the section element it is found in
    name: str                    # what the law asks for, in the letter's words
    law: str
    fields_all: tuple[str, ...] = ()     # each field present and non-empty
    fields_any: tuple[str, ...] = ()     # at least one of these non-empty
    table: str | None = None             # a table of this kind with rows
    statement: str | None = None         # this fixed statement, unaltered
    urls: bool = False                   # every item has its URL
    titles: bool = False                 # every work has evidence of title
    hashes: bool = False                 # every detection has its evidence hashes
    only_with_agent: bool = False

    def label(self) -> str:
        return f"{self.name} ({self.law})"


@dataclass(frozen=True)
class Jurisdiction:
    code: str
    name: str
    law: str
    elements: tuple[Element, ...] = field(default_factory=tuple)


JURISDICTIONS: dict[str, Jurisdiction] = {j.code: j for j in (
    Jurisdiction("CN", "China", f"{REG14}; {CC1195}", (
        Element("rights_holder", "权利人的姓名（名称）", f"{REG14}第一款第（一）项", fields_all=("name",)),
        Element("rights_holder", "权利人的联系方式", f"{REG14}第一款第（一）项", fields_any=("phone", "email")),
        Element("rights_holder", "权利人的地址", f"{REG14}第一款第（一）项", fields_all=("address",)),
        Element("rights_holder", "权利人的真实身份信息（统一社会信用代码）", CC1195,
                fields_all=("registration_number",)),
        Element("works", "要求删除或者断开链接的侵权作品的名称", f"{REG14}第一款第（二）项", table="works"),
        Element("items", "侵权作品的网络地址", f"{REG14}第一款第（二）项", table="items", urls=True),
        Element("evidence", "构成侵权的初步证明材料", f"{REG14}第一款第（三）项; {CC1195}",
                table="detections", hashes=True),
        Element("measures", "要求采取删除、屏蔽、断开链接等必要措施", CC1195, statement="cn.measures"),
        Element("truthfulness", "权利人对通知书的真实性负责的声明", f"{REG14}第二款",
                statement="cn.truthfulness"),
        Element("signature", "权利人签名或者盖章（书面通知）", REG14, fields_all=("signatory",)),
        Element("title", "权属证明（每部作品的权利证明文件）", f"{CC1195}（构成侵权的初步证据）", table="titles",
                titles=True),
        Element("identity", "权利人的身份证明（营业执照等）", f"{CC1195}（权利人的真实身份信息）", table="identity"),
        Element("agent", "代理人的授权委托", CC1195, fields_all=("authorisation",), only_with_agent=True),
    )),
    Jurisdiction("US", "United States", DMCA, (
        Element("signature", "(i) physical or electronic signature", f"{DMCA}(i)", fields_all=("signature",)),
        Element("works", "(ii) identification of the copyrighted work(s)", f"{DMCA}(ii)", table="works"),
        Element("items", "(iii) identification of the infringing material with information to locate it",
                f"{DMCA}(iii)", table="items", urls=True),
        Element("contact", "(iv) complaining party's address, telephone number and email", f"{DMCA}(iv)",
                fields_all=("address", "phone", "email")),
        Element("good_faith", "(v) good-faith statement", f"{DMCA}(v)", statement="us.good_faith"),
        Element("accuracy", "(vi) statement of accuracy and, under penalty of perjury, of authority to act",
                f"{DMCA}(vi)", statement="us.accuracy"),
        Element("evidence", "preliminary evidence with hashes", "Earwitness policy", table="detections",
                hashes=True),
        Element("title", "evidence of the complaining party's title to each work", f"{DMCA}(vi)",
                table="titles", titles=True),
        Element("identity", "complaining party's identity documents", "Earwitness policy", table="identity"),
        Element("agent", "agent's authorisation", f"{DMCA}(vi)", fields_all=("authorisation",),
                only_with_agent=True),
    )),
    Jurisdiction("EU", "European Union", f"{DSA}; {CDSM}", (
        Element("works", "(a) explanation of why the content is illegal: the works infringed",
                f"{DSA}(a)", table="works"),
        Element("items", "(b) exact electronic location of the content (URL)", f"{DSA}(b)", table="items",
                urls=True),
        Element("contact", "(c) name and email address of the notifier", f"{DSA}(c)",
                fields_all=("name", "email")),
        Element("accuracy", "(d) statement of good-faith belief that the notice is accurate and complete",
                f"{DSA}(d)", statement="eu.accuracy"),
        Element("evidence", "sufficiently substantiated notice: evidence with hashes", CDSM,
                table="detections", hashes=True),
        Element("title", "substantiation of the notifier's rights in each work", f"{DSA}(a); {CDSM}",
                table="titles", titles=True),
        Element("identity", "notifier's identity documents", f"{DSA}(c)", table="identity"),
        Element("agent", "agent's authorisation", f"{DSA}(c)", fields_all=("authorisation",),
                only_with_agent=True),
    )),
)}


def get(code: str) -> Jurisdiction:
    try:
        return JURISDICTIONS[code]
    except KeyError:
        raise KeyError(f"unknown jurisdiction {code!r}; one of: {', '.join(JURISDICTIONS)}") from None


def _why_not(el: Element, sections: list[dict], content: dict) -> str | None:
    """None when the letter has the element, else what is wrong."""
    if not sections:
        return "no such section in the letter"
    values = {f["name"]: f["value"].strip() for s in sections for f in s.get("fields", [])}
    if el.fields_all:
        empty = [f for f in el.fields_all if not values.get(f)]
        if empty:
            return f"empty or absent: {', '.join(empty)}"
    if el.fields_any and not any(values.get(f) for f in el.fields_any):
        return f"none of {', '.join(el.fields_any)} given"
    if el.table:
        tables = [s for s in sections if s.get("table") == el.table]
        if not tables or not letter_tables.rows(content, el.table):
            return f"no {el.table} table with rows"
    if el.urls and not all(it.get("url") for it in content["items"]):
        return "an item has no URL"
    if el.titles:
        bare = [w["id"] for w in content["works"] if not w.get("title_evidence")]
        if bare:
            return f"no evidence of title for work(s) {', '.join(bare)}"
    if el.hashes and content.get("with_evidence", True) and not all(
            d.get("bundle") and d["bundle"].get("manifest_sha256") and d["bundle"].get("files")
            for d in content["detections"]):
        return "a detection has no evidence hashes"
    if el.statement:
        found = [s["statement"] for s in sections if s.get("statement")]
        if not any(st["id"] == el.statement for st in found):
            return f"the fixed statement {el.statement} is not there"
        for s in sections:
            st = s.get("statement")
            if st and st["id"] == el.statement and text_sha256("\n".join(s["paragraphs"])) != st["sha256"]:
                return f"the statement {el.statement} was altered (its text no longer matches its hash)"
    if not (el.fields_all or el.fields_any or el.table or el.statement):
        if not any(p.strip() for s in sections for p in s.get("paragraphs", [])):
            return "the section is empty"
    return None


def missing(content: dict) -> list[str]:
    """Each required element the rendered letter lacks, as "element (law): why"."""
    j = get(content["jurisdiction"])
    out = []
    for el in j.elements:
        if el.only_with_agent and not content.get("agent"):
            continue
        sections = [s for s in content["sections"] if s["element"] == el.element]
        why = _why_not(el, sections, content)
        if why:
            out.append(f"{el.label()}: {why}")
    return out
