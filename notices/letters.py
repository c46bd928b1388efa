"""Notice letters: batch open cases into one letter per platform and recipient, check it, send it.

The letter's text lives in ``config/templates/notice_<lang>.yaml`` (sections, each
naming the statutory element it satisfies); the rights holder, agent and
recipients in ``config/notices.yaml``. :func:`draft` freezes the letter's data
(works, items, detections, evidence hashes, rendered sections) into
``Notice.content``, so a later render is the same letter. :func:`requirements`
lists what a letter lacks; a letter lacking anything is neither drafted nor
rendered (:class:`~notices.exceptions.MissingElements` names what is missing).

Nothing here sends anything: :func:`mark_sent` records that a person sent the
letter (channel, recipient, time) and moves its cases to ``notice_sent``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from earwitness.kernel import settings
from earwitness.kernel.store.ids import new_id
from earwitness.kernel.store.models import utcnow
from notices import cases as cases_mod
from notices import config, evidence
from notices.exceptions import MissingElements, NotFound, NoticesError
from earwitness.kernel.store.case_models import Case, Notice

LANGS = {"zh": "notice_zh-CN.yaml", "en": "notice_en.yaml"}
LABELS = {
    "zh": {"url": "网址", "bundle": "证据包", "entry": "台账第{seq}条", "file": "文件",
           "none": "无"},
    "en": {"url": "URL", "bundle": "Evidence bundle", "entry": "ledger entry #{seq}", "file": "file",
           "none": "none"},
}


def template_path(lang: str) -> Path:
    if lang not in LANGS:
        raise NoticesError(f"unknown letter language {lang!r}; one of: {', '.join(LANGS)}")
    folder = config.get("template_dir")
    folder = settings.get().path(folder) if folder else settings.CONFIG_DIR / "templates"
    return folder / LANGS[lang]


def load_template(lang: str) -> dict:
    data = yaml.safe_load(template_path(lang).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("sections"), list):
        raise NoticesError(f"{template_path(lang)}: expected a mapping with a `sections` list")
    return data


class _Fill(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _local(t: datetime | None) -> str:
    if t is None:
        return ""
    zone = config.get("local_timezone", "Asia/Shanghai")
    return (f"{t.astimezone(ZoneInfo('UTC')).strftime('%Y-%m-%d %H:%M')} UTC / "
            f"{t.astimezone(ZoneInfo(zone)).strftime('%Y-%m-%d %H:%M')} {'北京时间' if zone == 'Asia/Shanghai' else zone}")


def _parties(platform: str) -> dict:
    rh = dict(config.get("rights_holder") or {})
    agent = dict(config.get("agent") or {})
    recipient = dict(config.per_platform("recipients", platform) or {})
    return {"rights_holder": rh, "agent": agent if agent.get("name") else None,
            "recipient": recipient}


def build_content(session: Session, case_list: list[Case], *, lang: str, platform: str,
                  notice_id: str, with_evidence: bool = True, now: datetime | None = None) -> dict:
    """The letter's data: parties, works, items, detections with evidence hashes, rendered sections."""
    tpl = load_template(lang)
    parties = _parties(platform)
    rh, agent, recipient = parties["rights_holder"], parties["agent"], parties["recipient"]
    works: dict[str, dict] = {}
    items, dets = [], []
    for i, case in enumerate(case_list, start=1):
        titles = []
        for det in case.detections:
            if det.review_state != "confirmed":
                continue
            w = det.work
            works.setdefault(w.id, {"id": w.id, "title": w.title or "", "artist": w.artist or "",
                                    "isrc": w.isrc or ""})
            if (w.title or w.id) not in titles:
                titles.append(w.title or w.id)
            row = {"ref": f"{i}.{len([d for d in dets if d['item'] == i]) + 1}", "item": i,
                   "detection_id": det.id, "media_id": case.media_id, "work": w.title or w.id,
                   "clip_offset_s": round(det.clip_offset_s, 2), "ref_offset_s": round(det.ref_offset_s, 2),
                   "duration_s": round(det.duration_s, 2), "score": round(det.score, 3),
                   "pitch_semitones": round(det.pitch_semitones, 2), "tempo_ratio": round(det.tempo_ratio, 3),
                   "captured": _local(det.clip.captured_at), "bundle": None}
            if with_evidence:
                b = evidence.build_bundle(session, det.id)
                row["bundle"] = {"id": b.id, "ledger_seq": b.ledger_seq, "ledger_hash": b.ledger_hash,
                                 "manifest_sha256": b.manifest_sha256,
                                 "files": {n: m["sha256"] for n, m in sorted(b.files.items())}}
            dets.append(row)
        items.append({"n": i, "case_id": case.id, "platform": case.platform, "media_id": case.media_id,
                      "url": case.url, "uploader": case.uploader or "", "title": case.title or "",
                      "works": titles})
    now = now or utcnow()
    zh = lang == "zh"
    ctx = _Fill({
        "recipient_name": (recipient.get("name_zh") if zh else None) or recipient.get("name", ""),
        "notice_id": notice_id, "platform": platform,
        "date": now.astimezone(ZoneInfo(config.get("local_timezone", "Asia/Shanghai"))).strftime(
            "%Y年%m月%d日" if zh else "%d %B %Y"),
        "n_items": len(items), "n_works": len(works),
        "rights_holder_name": rh.get("name", ""),
        "rights_holder_name_zh": rh.get("name_zh") or rh.get("name", ""),
        "contact_person": rh.get("contact_person", ""),
        "contact_person_zh": rh.get("contact_person_zh") or rh.get("contact_person", ""),
        "phone": rh.get("phone", ""), "email": rh.get("email", ""),
        "address": rh.get("address", ""), "address_zh": rh.get("address_zh") or rh.get("address", ""),
        "signature": rh.get("signature", ""), "signature_zh": rh.get("signature_zh") or rh.get("signature", ""),
        "agent_name": (agent or {}).get("name", ""), "agent_address": (agent or {}).get("address", ""),
        "agent_authorisation": (agent or {}).get("authorisation", ""),
    })
    sections = []
    for sec in tpl["sections"]:
        if sec.get("when") == "agent" and not agent:
            continue
        sections.append({"element": sec.get("element", ""), "heading": sec.get("heading", ""),
                         "text": str(sec.get("text", "")).format_map(ctx).strip(),
                         "table": sec.get("table"), "columns": list(sec.get("columns") or [])})
    return {"lang": lang, "title": tpl.get("title", ""), "platform": platform, "notice_id": notice_id,
            "date": ctx["date"], "rights_holder": rh, "agent": agent, "recipient": recipient,
            "works": list(works.values()), "items": items, "detections": dets,
            "with_evidence": with_evidence, "sections": sections}


# --- requirements -------------------------------------------------------------------------------

def _sec(c: dict, element: str) -> str:
    return "\n".join(s["heading"] + "\n" + s["text"] for s in c["sections"] if s["element"] == element)


def _has(c: dict, element: str, *phrases: str) -> bool:
    text = _sec(c, element)
    return bool(text.strip()) and all(p in text for p in phrases)


def _evidence_ok(c: dict) -> bool:
    if not c["detections"] or not _has(c, "evidence") or not any(s["table"] == "detections" for s in c["sections"]):
        return False
    if not c.get("with_evidence", True):
        return True
    return all(d["bundle"] and d["bundle"]["manifest_sha256"] and d["bundle"]["files"] for d in c["detections"])


def _works_ok(c: dict) -> bool:
    return bool(c["works"]) and all(w["title"] for w in c["works"]) and _has(c, "works")


def _items_ok(c: dict) -> bool:
    return bool(c["items"]) and all(i["url"] for i in c["items"]) and _has(c, "items")


def _agent_ok(c: dict) -> bool:
    return not c["agent"] or bool(c["agent"].get("authorisation") and _has(c, "agent", c["agent"]["authorisation"]))


Check = tuple[str, Callable[[dict], bool]]
REQUIREMENTS: dict[str, list[Check]] = {
    "zh": [
        ("权利人的名称 (rights holder's name)",
         lambda c: bool(c["rights_holder"].get("name_zh") or c["rights_holder"].get("name")) and _has(c, "rights_holder")),
        ("权利人的联系方式 (contact details)",
         lambda c: bool(c["rights_holder"].get("phone") or c["rights_holder"].get("email"))),
        ("权利人的地址 (address)",
         lambda c: bool(c["rights_holder"].get("address_zh") or c["rights_holder"].get("address"))),
        ("被侵权作品的名称 (name of each infringed work)", _works_ok),
        ("侵权内容的网络地址 (URL of each infringing item)", _items_ok),
        ("构成侵权的初步证明材料 (preliminary evidence with hashes)", _evidence_ok),
        ("要求采取删除、屏蔽、断开链接等必要措施 (request for the necessary measures)",
         lambda c: _has(c, "measures", "删除", "屏蔽", "断开链接")),
        ("通知内容真实性声明及责任承担 (truthfulness and responsibility statement)",
         lambda c: _has(c, "truthfulness", "真实", "责任")),
        ("代理人的授权 (agent's authorisation)", _agent_ok),
    ],
    "en": [
        ("(i) physical or electronic signature",
         lambda c: bool(c["rights_holder"].get("signature")) and _has(c, "signature", "/s/ " + c["rights_holder"].get("signature", ""))),
        ("(ii) identification of the copyrighted work(s)", _works_ok),
        ("(iii) identification of the infringing material with information to locate it", _items_ok),
        ("(iv) complaining party's address, telephone number and email",
         lambda c: all(c["rights_holder"].get(k) for k in ("address", "phone", "email")) and _has(c, "contact")),
        ("(v) good-faith statement", lambda c: _has(c, "good_faith", "good faith belief", "not authorized")),
        ("(vi) statement of accuracy and, under penalty of perjury, of authority to act",
         lambda c: _has(c, "accuracy", "accurate", "penalty of perjury", "authorized to act")),
        ("preliminary evidence with hashes", _evidence_ok),
        ("agent's authorisation", _agent_ok),
    ],
}


def requirements(content: dict) -> list[str]:
    """The names of the required elements the letter lacks (empty: complete)."""
    return [name for name, ok in REQUIREMENTS[content["lang"]] if not ok(content)]


def ensure_complete(content: dict) -> None:
    missing = requirements(content)
    if missing:
        raise MissingElements(content["lang"], missing)


# --- blocks: what both renderers draw --------------------------------------------------------------

def blocks(content: dict) -> list[tuple]:
    """The letter as ("title"|"heading"|"para"|"small", text) and ("table", columns, rows) blocks."""
    ensure_complete(content)
    lab = LABELS[content["lang"]]
    out: list[tuple] = [("title", content["title"])]
    for sec in content["sections"]:
        if sec["heading"]:
            out.append(("heading", sec["heading"]))
        for line in sec["text"].splitlines():
            if line.strip():
                out.append(("para", line))
        if sec["table"] == "works":
            rows = [[str(i), w["title"], w["artist"], w["isrc"], w["id"]]
                    for i, w in enumerate(content["works"], start=1)]
            out.append(("table", sec["columns"], rows))
        elif sec["table"] == "items":
            rows = [[str(it["n"]), it["platform"], it["media_id"], it["uploader"], it["title"],
                     "; ".join(it["works"])] for it in content["items"]]
            out.append(("table", sec["columns"], rows))
            for it in content["items"]:
                out.append(("para", f"[{it['n']}] {lab['url']}: {it['url']}"))
        elif sec["table"] == "detections":
            rows = [[d["ref"], d["media_id"], d["work"], f"{d['clip_offset_s']:.2f}",
                     f"{d['ref_offset_s']:.2f}", f"{d['duration_s']:.2f}", f"{d['score']:.3f}",
                     f"{d['pitch_semitones']:+.2f}", f"{d['tempo_ratio']:.3f}", d["captured"]]
                    for d in content["detections"]]
            out.append(("table", sec["columns"], rows))
            for d in content["detections"]:
                b = d["bundle"]
                if not b:
                    continue
                out.append(("small", f"[{d['ref']}] {lab['bundle']} {b['id']}, "
                                     f"{lab['entry'].format(seq=b['ledger_seq'])}"))
                out.append(("small", f"manifest.json SHA-256: {b['manifest_sha256']}"))
                for name, sha in b["files"].items():
                    out.append(("small", f"{name} SHA-256: {sha}"))
    return out


def plain_text(content: dict) -> str:
    """The letter as plain text (for previews and tests)."""
    lines = []
    for b in blocks(content):
        if b[0] == "table":
            lines.append(" | ".join(b[1]))
            lines.extend(" | ".join(r) for r in b[2])
        else:
            lines.append(b[1])
    return "\n".join(lines)


# --- drafting and sending ------------------------------------------------------------------------

def get_notice(session: Session, notice_id: str) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None:
        raise NotFound(f"no notice {notice_id!r}")
    return notice


def recipient_key(platform: str) -> str:
    rec = config.per_platform("recipients", platform) or {}
    return rec.get("email") or rec.get("name") or platform


def default_lang(platform: str) -> str:
    return str(config.per_platform("languages", platform, "zh"))


def draft(session: Session, *, platform: str, lang: str | None = None, actor: str,
          case_ids: list[str] | None = None, now: datetime | None = None) -> Notice:
    """One letter to the platform's recipient covering its confirmed cases (or ``case_ids``).

    Refuses (:class:`MissingElements`) before changing anything if the letter would
    lack a required element; builds each detection's evidence bundle otherwise.
    """
    lang = lang or default_lang(platform)
    q = select(Case).where(Case.platform == platform, Case.state == "confirmed").order_by(Case.opened_at)
    if case_ids:
        q = q.where(Case.id.in_(case_ids))
    batch = list(session.scalars(q))
    if not batch:
        raise NoticesError(f"no confirmed cases on {platform!r} to put in a letter")
    notice_id = new_id()
    ensure_complete(build_content(session, batch, lang=lang, platform=platform, notice_id=notice_id,
                                  with_evidence=False, now=now))
    content = build_content(session, batch, lang=lang, platform=platform, notice_id=notice_id, now=now)
    ensure_complete(content)
    notice = Notice(id=notice_id, platform=platform, recipient=recipient_key(platform), lang=lang,
                    created_by=actor, created_at=now or utcnow(), content=content, cases=batch)
    session.add(notice)
    session.flush()
    for case in batch:
        cases_mod.apply(session, case.id, "draft_notice", actor=actor, at=now, notice_id=notice.id,
                        lang=lang, recipient=notice.recipient)
    return notice


def mark_sent(session: Session, notice_id: str, *, actor: str, channel: str, recipient: str,
              sent_at: datetime | str, at: datetime | None = None) -> Notice:
    """Record that a person sent the letter: by which channel, to whom, when."""
    notice = get_notice(session, notice_id)
    if notice.state != "draft":
        raise NoticesError(f"notice {notice.id} is {notice.state}, not a draft")
    for case in notice.cases:
        cases_mod.apply(session, case.id, "send_notice", actor=actor, at=at, channel=channel,
                        recipient=recipient, sent_at=sent_at, notice_id=notice.id)
    first = notice.cases[0]
    notice.state, notice.sent_at, notice.sent_by = "sent", first.sent_at, actor
    notice.channel, notice.sent_to = channel, recipient
    return notice


def withdraw(session: Session, notice_id: str, *, actor: str, reason: str) -> Notice:
    """Withdraw a draft; its cases go back to ``confirmed``."""
    notice = get_notice(session, notice_id)
    if notice.state != "draft":
        raise NoticesError(f"notice {notice.id} is {notice.state}; only a draft can be withdrawn")
    for case in notice.cases:
        cases_mod.apply(session, case.id, "withdraw_draft", actor=actor, reason=reason)
    notice.state = "withdrawn"
    return notice


def notices_for_case(session: Session, case_id: str) -> list[Notice]:
    return list(session.scalars(select(Notice).where(Notice.cases.any(Case.id == case_id))
                                .order_by(Notice.created_at)))


def summary(content: dict[str, Any]) -> str:
    return f"{content['lang']} letter to {content['recipient'].get('name', '?')}: " \
           f"{len(content['items'])} item(s), {len(content['works'])} work(s)"
