"""The rows of a letter's tables (works, items, detections, titles, identity), from its frozen data.

One function for the renderers and the completeness check, so what is checked is
what is printed.
"""

from __future__ import annotations


def rows(content: dict, kind: str) -> list[list[str]]:
    if kind == "works":
        return [[str(i), w["title"], w["artist"], w["isrc"], w["id"]]
                for i, w in enumerate(content["works"], start=1)]
    if kind == "items":
        return [[str(it["n"]), it["platform"], it["media_id"], it["uploader"], it["title"],
                 "; ".join(it["works"])] for it in content["items"]]
    if kind == "detections":
        return [[d["ref"], d["media_id"], d["work"], f"{d['clip_offset_s']:.2f}", f"{d['ref_offset_s']:.2f}",
                 f"{d['duration_s']:.2f}", f"{d['score']:.3f}", f"{d['pitch_semitones']:+.2f}",
                 f"{d['tempo_ratio']:.3f}", d["captured"]] for d in content["detections"]]
    if kind == "titles":
        return [[w["id"], w["title"], w.get("owner", ""), doc["kind"], doc["title"]]
                for w in content["works"] for doc in w.get("title_evidence", [])]
    if kind == "identity":
        return [[doc["kind"], doc["title"]] for doc in content.get("identity", [])]
    raise KeyError(kind)


def hash_lines(content: dict, kind: str) -> list[str]:
    """The SHA-256 lines printed after a titles or identity table (hashes never split in a cell)."""
    if kind == "titles":
        return [f"{w['id']} · {doc['file']} SHA-256: {doc['sha256']}"
                for w in content["works"] for doc in w.get("title_evidence", [])]
    if kind == "identity":
        return [f"{doc['file']} SHA-256: {doc['sha256']}" for doc in content.get("identity", [])]
    return []
