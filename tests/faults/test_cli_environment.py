"""Issue 16: every command that writes, on a read-only data home and on a full disk, says so in one line
naming the path and exits non-zero, with no traceback; and nothing already stored is lost.

The command tree is walked (``earwitness --help`` recursively) and every leaf command must be
either in ``WRITERS`` (run here, each as a real ``python -m earwitness.app.cli`` process) or in
``NOT_WRITING_THE_HOME`` with the reason, so a new command cannot slip past this suite. The data
home is a small tmpfs, remounted read-only or filled to the last byte.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[2]

# leaf commands that do not write the data home, and why they are not run here
NOT_WRITING_THE_HOME = {
    "bench crawl": "writes only under --platform-root's temporary folder and the store (covered by the store line)",
    "bench workers": "needs a Redis broker; writes only the store",
    "cases list": "reads", "cases show": "reads", "catalog list": "reads", "catalog stats": "reads",
    "completion": "prints a script", "config show": "reads the settings",
    "detections list": "reads", "es setup": "writes Elasticsearch only", "es status": "reads",
    "es reindex": "writes Elasticsearch only", "kibana import": "writes Kibana only",
    "evidence verify": "reads", "fixtures serve": "serves a built folder", "notices list": "reads",
    "notices show": "reads", "review list": "reads", "review show": "reads", "status": "reads",
    "users list": "reads", "workers match": "needs a Redis broker; a worker writes the store per clip",
    "live watch": "network rooms only; the same capture path as live sample",
    "bench matcher": "needs a prepared benchmark corpus (shared/bench); refused, naming it, before writing",
    "bench scale": "needs a prepared benchmark corpus (shared/bench); refused, naming it, before writing",
}

# on a full disk the store still opens and reads, so these fail first on what they need, not on the disk:
# an unreachable site, room or search server (nothing runs on 127.0.0.1 here), or nothing to do
FULL_DISK_NOT_REACHED = {
    "crawl": "the fixture site is not running", "sites check": "the fixture site is not running",
    "live sample": "the room is unreachable", "es sync": "no search server",
    "review auto": "auto-confirm is off: nothing to write",
    "index compact": "one segment: nothing to compact, nothing written",
}


def _leaves() -> set[str]:
    from earwitness.app.cli import main
    out: set[str] = set()

    def walk(cmd, path, ctx):
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    walk(sub, path + [name], click.Context(sub, parent=ctx))
        else:
            out.add(" ".join(path))
    walk(main, [], click.Context(main))
    return out


def _writers(ids: dict, tmp: Path) -> dict[str, list[str]]:
    """Each writing command with arguments that reach its write (ids of records seeded in the home)."""
    home = ids["home"]
    return {
        "cases close": ["cases", "close", ids["resolved_case"]],
        "cases complain-to-regulator": ["cases", "complain-to-regulator", ids["sent_case"], "--channel", "12315",
                                        "--reason", "ignored"],
        "cases counter-notice": ["cases", "counter-notice", ids["sent_case"], "--received-at",
                                 "2026-03-10T09:00:00+00:00"],
        "cases escalate": ["cases", "escalate", ids["sent_case"], "--reason", "court"],
        "cases follow-up": ["cases", "follow-up", ids["sent_case"], "--channel", "email", "--text", "again"],
        "cases note": ["cases", "note", ids["sent_case"], "a note"],
        "cases notice-rejected": ["cases", "notice-rejected", ids["sent_case"], "--answer", "no"],
        "cases reappeared": ["cases", "reappeared", ids["resolved_case"], "--check", "{}"],
        "cases resolve": ["cases", "resolve", ids["sent_case"]],
        "cases restore": ["cases", "restore", ids["sent_case"], "--reason", "x"],
        "cases resubmit": ["cases", "resubmit", ids["sent_case"], "--reason", "x"],
        "cases verify-removed": ["cases", "verify-removed", ids["sent_case"], "--check", '{"http_status": 404}'],
        "cases withdraw": ["cases", "withdraw", ids["confirmed_case"], "--reason", "licence"],
        "cases withdraw-draft": ["cases", "withdraw-draft", ids["confirmed_case"], "--reason", "x"],
        "catalog add": ["catalog", "add", ids["song"], "--id", "W2", "--title", "Other", "--artist", "B"],
        "catalog import": ["catalog", "import", ids["manifest"]],
        "catalog remove": ["catalog", "remove", "W1"],
        "crawl": ["crawl", "fixture", "--limit", "1", "--timeout", "60"],
        "daemon": ["daemon", "--once", "--only", "evidence"],
        "demo": ["demo"],
        "es sync": ["es", "sync"],
        "evidence build": ["evidence", "build", ids["detection"]],
        "fixtures build": ["fixtures", "build", "--out", str(home / "fixture-site")],
        "index compact": ["index", "compact"],
        "index rebuild": ["index", "rebuild"],
        "live sample": ["live", "sample", "--room", "http://127.0.0.1:9/room.m3u8"],
        "login": ["login", "fixture", "--cookies", ids["cookies"]],
        "match": ["match", "--batch", ids["batch"], "--out", str(home / "pred.csv")],
        "notices approve": ["notices", "approve", ids["notice"], "--actor", "legal"],
        "notices draft": ["notices", "draft", "--platform", "fixture", "--actor", "legal"],
        "notices export": ["notices", "export", ids["notice"], "--format", "zip", "--out", str(home / "exports")],
        "notices retract": ["notices", "retract", ids["notice"], "--reason", "x", "--actor", "legal"],
        "notices send": ["notices", "send", ids["notice"], "--channel", "email", "--to", "a@b.c", "--actor", "legal",
                         "--at", "2026-03-02T10:00:00+00:00"],
        "notices withdraw": ["notices", "withdraw", ids["notice"], "--reason", "x", "--actor", "legal"],
        "report monthly": ["report", "monthly", "--month", "2026-03", "--out", str(home / "reports")],
        "review auto": ["review", "auto"],
        "review confirm": ["review", "confirm", ids["pending"], "--actor", "ann"],
        "review reject": ["review", "reject", ids["pending"], "--reason", "not it", "--actor", "ann"],
        "serve": ["serve", "--port", "9"],
        "sites check": ["sites", "check", "fixture"],
        "sites resume": ["sites", "resume", "shortvideo"],
        "users add": ["users", "add", "bob", "--role", "analyst", "--password-stdin"],
        "users disable": ["users", "disable", "ann"],
        "users passwd": ["users", "passwd", "ann", "--password-stdin"],
    }


def _run(home: Path, args: list[str], env_extra: dict[str, str]) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EARWITNESS")}
    env.update(EARWITNESS_HOME=str(home), PYTHONPATH=str(ROOT), **env_extra)
    try:
        proc = subprocess.run([sys.executable, "-m", "earwitness.app.cli", *args], cwd=ROOT, env=env,
                              input="a-long-enough-password-1\n", capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired as exc:
        return -1, f"timed out: {exc.stdout or ''}{exc.stderr or ''}"
    return proc.returncode, proc.stdout + proc.stderr


def _seed(home: Path, store_url: str, tmp: Path) -> dict:
    """A home with a catalog work in the index, a pending and a confirmed detection (media in the home),
    cases in several states, a drafted letter, a user; returned as the ids the commands take."""
    from earwitness.kernel import settings
    from earwitness.kernel.store import Store
    from fixtures.music import synthesize, write_wav
    from race_seeding import Seeder
    song = write_wav(tmp / "song.wav", synthesize(7, 20.0))
    env = {"EARWITNESS__STORE_URL": store_url}
    rc, out = _run(home, ["catalog", "add", str(song), "--id", "W1", "--title", "Song", "--artist", "A",
                           "--owner", "Example Music"], env)
    assert rc == 0, out
    rc, out = _run(home, ["users", "add", "ann", "--role", "admin", "--password-stdin"], env)
    assert rc == 0, out
    os.environ["EARWITNESS__STORE_URL"] = store_url
    try:
        settings.configure(home)
        store = Store(store_url)
        seed = Seeder(home, store)
        ids = {"home": home, "song": str(song), "pending": seed.detection(work_id="W1", media_id="p1"),
               "detection": seed.detection(work_id="W1", media_id="d1")}
        from notices import review
        with store.session() as s:
            det_case = review.confirm(s, ids["detection"], actor="ann").id
        ids.update(sent_case=seed.case("notice_sent"), resolved_case=seed.case("resolved"),
                   confirmed_case=seed.case("confirmed"))
        from notices import letters
        with store.session() as s:
            ids["notice"] = letters.draft(s, platform="fixture", actor="legal", case_ids=[det_case]).id
        store.dispose()
    finally:
        del os.environ["EARWITNESS__STORE_URL"]
        settings.configure(None)
    manifest = tmp / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        csv.writer(fh).writerows([["track_id", "path", "title", "artist"], ["W3", str(song), "Third", "C"]])
    batch = tmp / "batch.txt"
    batch.write_text(f"{song}\n")
    cookies = tmp / "cookies.txt"
    cookies.write_text("# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\tabc\n")
    ids.update(manifest=str(manifest), batch=str(batch), cookies=str(cookies))
    pauses = home / "crawler" / "pauses.json"           # a site paused, so `sites resume` writes
    pauses.parent.mkdir(parents=True, exist_ok=True)
    pauses.write_text('{"shortvideo": {"until": "2099-01-01T00:00:00+00:00", "strikes": 1, "state": "blocked", '
                      '"reason": "bot_check 3 and nothing fetched"}}')
    return ids


def test_every_leaf_command_is_run_here_or_said_not_to_write_the_home(tmp_path):
    writers = set(_writers({"home": tmp_path, **{k: "x" for k in (
        "resolved_case", "sent_case", "confirmed_case", "song", "manifest", "detection", "cookies", "batch",
        "notice", "pending")}}, tmp_path))
    leaves = _leaves()
    assert leaves == writers | set(NOT_WRITING_THE_HOME), (
        f"not covered: {sorted(leaves - writers - set(NOT_WRITING_THE_HOME))}; "
        f"gone: {sorted((writers | set(NOT_WRITING_THE_HOME)) - leaves)}")
    assert not writers & set(NOT_WRITING_THE_HOME)


def _check_all(home: Path, ids: dict, env: dict, *, expect: str, tmp: Path,
               skip: dict[str, str] | None = None) -> dict[str, str]:
    """Run every writer (but ``skip``); the problems found, by command (empty when all is well)."""
    writers = {k: v for k, v in _writers(ids, tmp).items() if k not in (skip or {})}
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(writers, pool.map(lambda args: _run(home, args, env), writers.values())))
    problems = {}
    for name, (rc, out) in results.items():
        errors = [ln for ln in out.splitlines() if ln.startswith("Error:")]
        if rc == 0:
            problems[name] = f"exit 0: {out[-300:]}"
        elif "Traceback" in out:
            problems[name] = f"traceback: {out[-600:]}"
        elif len(errors) != 1:
            problems[name] = f"not one error line (rc {rc}): {out[-400:]}"
        elif expect not in errors[0] or str(home) not in errors[0]:
            problems[name] = f"the line does not say {expect!r} naming {home}: {errors[0]}"
    return problems


@pytest.mark.slow
def test_every_writing_command_on_a_read_only_home_is_one_line(tmp_path, mount_tmpfs):
    home = mount_tmpfs(tmp_path / "home", size="64m")
    url = f"sqlite:///{home}/earwitness.db"                         # the store in the home, as shipped
    ids = _seed(home, url, tmp_path)
    before = _snapshot(home)
    mount_tmpfs.remount_readonly(home)
    problems = _check_all(home, ids, {"EARWITNESS__STORE_URL": url}, tmp=tmp_path,
                          expect="make the data home writable")
    assert not problems, "\n".join(f"{k}: {v}" for k, v in sorted(problems.items()))
    assert _snapshot(home) == before                                 # nothing stored was touched


@pytest.mark.slow
def test_every_writing_command_on_a_full_disk_is_one_line(tmp_path, mount_tmpfs):
    home = mount_tmpfs(tmp_path / "home", size="64m")
    url = f"sqlite:///{home}/earwitness.db"
    ids = _seed(home, url, tmp_path)
    rows = _store_rows(url)
    _fill(home)
    problems = _check_all(home, ids, {"EARWITNESS__STORE_URL": url}, tmp=tmp_path, expect="disk full",
                          skip=FULL_DISK_NOT_REACHED)
    assert not problems, "\n".join(f"{k}: {v}" for k, v in sorted(problems.items()))
    (home / "filler").unlink()
    assert _store_rows(url) == rows                                  # nothing stored was lost


def _fill(home: Path) -> None:
    """Fill the tmpfs to the last byte (unbuffered writes, smaller and smaller)."""
    fd = os.open(home / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


def _snapshot(home: Path) -> dict[str, int]:
    return {str(p.relative_to(home)): p.stat().st_size for p in home.rglob("*") if p.is_file()}


def _store_rows(url: str) -> dict[str, int]:
    import sqlite3
    con = sqlite3.connect(url[len("sqlite:///"):])
    try:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0]
                for t in ("works", "clips", "detections", "cases", "case_events")}
    finally:
        con.close()
