"""A job function for the fault suite: one that did part of its work (one item failed)."""

from __future__ import annotations


def half_done() -> dict:
    return {"done": 1, "failed": 1, "errors": ["clip c2: broken record (RuntimeError)"]}
