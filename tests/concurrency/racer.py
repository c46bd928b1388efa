"""One side of a race: a real process that does one thing to the store, optionally pausing mid-way.

Run as ``python racer.py ACTION ARG... [--pause module:function:before|after[:ARG]]
[--mark module:function]`` with ``EARWITNESS_HOME`` (and any settings) in the
environment and ``RACE_DIR`` naming the folder both sides and the test use to
meet. The pause is a test hook installed *here*, in the racing process only: the
named function is wrapped so that its first call (with ARG among its positional
arguments, when given) touches ``RACE_DIR/<name>.reached`` and waits for
``RACE_DIR/<name>.go`` (before or after the real call). ``--mark`` only touches
``RACE_DIR/<name>.entered`` when the function is first entered, without waiting.
Nothing in the production code knows about either.

Prints one JSON line: ``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``;
exit status 0 when the action succeeded, 3 when it was refused on purpose
(a lost race said in words), 1 for anything else.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path


def _target(module_name: str, attr: str):
    module = importlib.import_module(module_name)
    owner, _, name = attr.rpartition(".")
    holder = getattr(module, owner) if owner else module
    return holder, name


def install_mark(target: str, name: str, race_dir: Path) -> None:
    module_name, attr = target.split(":")[:2]
    holder, fname = _target(module_name, attr)
    real = getattr(holder, fname)

    def marked(*args, **kwargs):
        (race_dir / f"{name}.entered").touch()
        return real(*args, **kwargs)

    setattr(holder, fname, marked)


def install_pause(target: str, name: str, race_dir: Path) -> None:
    module_name, attr, when, *only = (target.split(":") + ["after"])[:3] + target.split(":")[3:4]
    holder, fname = _target(module_name, attr)
    real = getattr(holder, fname)
    fired = []

    def wait() -> None:
        if fired:
            return
        fired.append(True)
        (race_dir / f"{name}.reached").touch()
        deadline = time.monotonic() + 120
        while not (race_dir / f"{name}.go").exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"{name}: never released")
            time.sleep(0.02)

    def paused(*args, **kwargs):
        chosen = not only or only[0] in args
        if chosen and when == "before":
            wait()
        out = real(*args, **kwargs)
        if chosen and when == "after":
            wait()
        return out

    setattr(holder, fname, paused)


def confirm(det_id: str) -> dict:
    from earwitness.kernel.store import open_store
    from notices import review
    with open_store().session() as s:
        case = review.confirm(s, det_id, actor=f"reviewer-{os.getpid()}")
        return {"case": case.id}


def reject(det_id: str) -> dict:
    from earwitness.kernel.store import open_store
    from notices import review
    with open_store().session() as s:
        fp = review.reject(s, det_id, actor=f"reviewer-{os.getpid()}", reason="not the song")
        return {"false_positive": fp.id}


def apply(case_id: str, event: str, *details: str, engine: bool = False) -> dict:
    """Apply one case event; ``details`` are KEY=VALUE (a JSON value where it parses as one).
    ``engine``: through the case engine alone, as the letter functions do."""
    from earwitness.kernel.store import open_store
    from notices import case_engine, cases
    parsed = {}
    for item in details:
        key, _, value = item.partition("=")
        try:
            parsed[key] = json.loads(value)
        except ValueError:
            parsed[key] = value
    reason = parsed.pop("reason", None)
    with open_store().session() as s:
        move = case_engine.transition if engine else cases.apply
        case = move(s, case_id, event, actor=f"clerk-{os.getpid()}", reason=reason, **parsed)
        return {"state": case.state}


def transition(case_id: str, event: str, *details: str) -> dict:
    return apply(case_id, event, *details, engine=True)


def bundle(det_id: str) -> dict:
    from earwitness.kernel.store import open_store
    from notices import evidence
    with open_store().session() as s:
        b = evidence.build_bundle(s, det_id)
        return {"bundle": b.id, "manifest_sha256": b.manifest_sha256}


def sync() -> dict:
    from earwitness.app.elastic import sync as es_sync
    from earwitness.kernel.store import open_store
    return es_sync.sync(open_store()).as_dict()


def reject_and_sync(det_id: str) -> dict:
    out = reject(det_id)
    out["sync"] = sync()
    return out


def match() -> dict:
    from earwitness.app.matching import match_backlog
    from earwitness.kernel.store import open_store
    return match_backlog(open_store()).as_dict()


ACTIONS = {"apply": apply, "transition": transition, "confirm": confirm, "reject": reject, "bundle": bundle, "sync": sync,
           "reject-and-sync": reject_and_sync, "match": match}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=sorted(ACTIONS))
    parser.add_argument("args", nargs="*")
    parser.add_argument("--pause")
    parser.add_argument("--mark")
    parser.add_argument("--name", default="racer")
    opts = parser.parse_args()
    if opts.pause:
        install_pause(opts.pause, opts.name, Path(os.environ["RACE_DIR"]))
    if opts.mark:
        install_mark(opts.mark, opts.name, Path(os.environ["RACE_DIR"]))
    from notices.exceptions import NoticesError
    try:
        out = ACTIONS[opts.action](*opts.args)
    except NoticesError as exc:
        print(json.dumps({"ok": False, "refused": True, "error": f"{type(exc).__name__}: {exc}"}))
        return 3
    except Exception as exc:  # noqa: BLE001 - reported to the test
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps({"ok": True, **out}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
