"""The rows of a letter's tables (works, items, detections, titles, identity, hashes), from its frozen data.

One function for the renderers and the completeness check, so what is checked is
what is printed. A detection's position is quoted as the matched pair, "clip
t1–t2 s ↔ work u1–u2 s" (:func:`pair`), the way the matcher reports it, never as
the raw offsets of the record. Hashes go to the letter's hash annex
(:func:`hash_lines`), never into the body's tables.
"""

from __future__ import annotations

# the words a letter's cells use, by language
WORDS = {
    "zh": {"clip": "片段", "work": "作品", "s": "秒", "auto": "自动确认（按自动确认策略，未经逐项人工复核；函件经法务人员批准）",
           "by": "{who}，{at}", "entry": "第{seq}条", "bundle": "证据包"},
    "en": {"clip": "clip", "work": "work", "s": "s", "auto": "confirmed automatically under the auto-confirm "
           "policy (no item-by-item human review; the letter is approved by a named legal user)",
           "by": "{who}, {at}", "entry": "entry #{seq}", "bundle": "bundle"},
}
# programs that may confirm a detection: never printed as if they were a person
AUTOMATIC_REVIEWERS = ("auto-confirm",)


def pair(d: dict) -> dict[str, float]:
    """The matched pair of a letter's detection row: the clip stretch and the same stretch in the work.

    Rows drafted with the pair carry it; older rows have the record's offsets, from
    which the matcher's own relation gives it (work time = ``ref_offset_s`` +
    ``tempo_ratio`` × clip time, as :func:`matchers.match.pair_from_transform`).
    """
    if d.get("pair"):
        return d["pair"]
    t1 = float(d["clip_offset_s"])
    t2 = t1 + float(d["duration_s"])
    ratio, at0 = float(d["tempo_ratio"]), float(d["ref_offset_s"])
    return {"clip_start_s": t1, "clip_end_s": t2, "work_start_s": at0 + ratio * t1, "work_end_s": at0 + ratio * t2}


def _s(x: float) -> str:
    return f"{0.0 if abs(x) < 0.005 else x:.2f}"


def position_text(d: dict, lang: str) -> str:
    """"clip t1–t2 s ↔ work u1–u2 s" in the letter's language."""
    w, p = WORDS[lang], pair(d)
    return (f"{w['clip']} {_s(p['clip_start_s'])}\u2013{_s(p['clip_end_s'])} {w['s']} \u2194 "
            f"{w['work']} {_s(p['work_start_s'])}\u2013{_s(p['work_end_s'])} {w['s']}")


def confirmed_text(d: dict, lang: str) -> str:
    """Who confirmed the detection and when; an automatic confirmation is named as such."""
    who = d.get("reviewed_by") or ""
    if who in AUTOMATIC_REVIEWERS:
        return WORDS[lang]["auto"]
    return WORDS[lang]["by"].format(who=who, at=d.get("reviewed_at") or "") if who else ""


def rows(content: dict, kind: str) -> list[list[str]]:
    lang = content.get("lang", "en")
    if kind == "works":
        return [[str(i), w["title"], w["artist"], w["isrc"], w["id"]]
                for i, w in enumerate(content["works"], start=1)]
    if kind == "items":
        return [[str(it["n"]), it["platform"], it["media_id"], it["uploader"], it["title"],
                 "; ".join(it["works"])] for it in content["items"]]
    if kind == "detections":
        return [[d["ref"], d["media_id"], d["work"], position_text(d, lang), f"{d['pitch_semitones']:+.2f}",
                 f"{d['tempo_ratio']:.3f}", f"{d['score']:.1f}", d["captured"]] for d in content["detections"]]
    if kind == "titles":
        return [[w["id"], w["title"], w.get("owner", ""), doc["kind"], doc["title"]]
                for w in content["works"] for doc in w.get("title_evidence", [])]
    if kind == "identity":
        return [[doc["kind"], doc["title"]] for doc in content.get("identity", [])]
    if kind == "hashes":
        w = WORDS[lang]
        return [[d["ref"], d["bundle"]["id"], w["entry"].format(seq=d["bundle"]["ledger_seq"]),
                 confirmed_text(d, lang)] for d in content["detections"] if d.get("bundle")]
    raise KeyError(kind)


def hash_lines(content: dict, kind: str) -> list[str]:
    """The SHA-256 lines printed after a titles, identity or hashes table (a hash is never split in a cell)."""
    if kind == "titles":
        return [f"{w['id']} · {doc['file']} SHA-256: {doc['sha256']}"
                for w in content["works"] for doc in w.get("title_evidence", [])]
    if kind == "identity":
        return [f"{doc['file']} SHA-256: {doc['sha256']}" for doc in content.get("identity", [])]
    if kind == "hashes":
        out = []
        for d in content["detections"]:
            b = d.get("bundle")
            if not b:
                continue
            out.append(f"[{d['ref']}] manifest.json SHA-256: {b['manifest_sha256']}")
            out += [f"[{d['ref']}] {name} SHA-256: {sha}" for name, sha in b["files"].items()]
        return out
    return []
