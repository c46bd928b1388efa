"""The command line explains itself: fast help, typo suggestions, global options anywhere, completion,
the effective settings with their origins, the data home in status, one output shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from click.testing import CliRunner

from earwitness.app.cli import COMMANDS, hoist_global_options, main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


def test_help_lists_every_command_without_importing_any():
    code = ("import sys\nfrom earwitness.app.cli import main, COMMANDS\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "mods = {t.split(':')[0] for t, _ in COMMANDS.values()}\n"
            "print('LOADED', sorted(m for m in mods if m in sys.modules))\n")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    assert "LOADED []" in proc.stdout
    listed = {line.split()[0] for line in proc.stdout.split("Commands:")[1].split("LOADED")[0].splitlines()
              if line.strip()}
    assert listed == set(COMMANDS)
    print(f"earwitness --help: {elapsed:.2f} s wall in a fresh interpreter")


def test_a_typo_gets_the_nearest_command():
    res = run("catlog", "list")
    assert res.exit_code == 2
    assert "No such command 'catlog'. Did you mean 'catalog'?" in res.output


def test_global_options_are_accepted_after_the_subcommand(home, tmp_path):
    other = tmp_path / "other-home"
    res = run("catalog", "list", "--json", "--home", str(other))
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == []
    assert (other / "index").exists() or (other / "earwitness.db").exists()
    res = run("status", "-q", f"--home={other}")
    assert res.exit_code == 0 and f"data home: {other}" in res.stdout


def test_hoisting_leaves_a_subcommands_own_short_flags_and_values_alone():
    assert hoist_global_options(["crawl", "fixture", "-q", "song", "-v"]) == ["-v", "crawl", "fixture", "-q", "song"]
    assert hoist_global_options(["--home", "catalog", "match", "x"]) == ["--home", "catalog", "match", "x"]
    assert hoist_global_options(["match", "--", "--home"]) == ["match", "--", "--home"]


def test_completion_prints_a_script_for_each_shell():
    for shell, marker in (("bash", "_EARWITNESS_COMPLETE=bash_complete"), ("zsh", "#compdef earwitness"),
                          ("fish", "_EARWITNESS_COMPLETE=fish_complete")):
        res = run("completion", shell)
        assert res.exit_code == 0 and marker in res.stdout, (shell, res.output)


def test_config_show_says_where_each_value_came_from(home, tmp_path, monkeypatch):
    (home / "earwitness.yaml").write_text("matcher:\n  candidates: 7\n")
    monkeypatch.setenv("EARWITNESS__MATCHER__THRESHOLD", "12")
    monkeypatch.setenv("EARWITNESS__STORE_URL", "postgresql+psycopg://ew:hunter2@127.0.0.1/ew")
    res = run("config", "show", "--origin", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["matcher.threshold"] == {"value": 12.0, "origin": "environment variable EARWITNESS__MATCHER__THRESHOLD"}
    assert doc["matcher.candidates"] == {"value": 7, "origin": str(home / "earwitness.yaml")}
    assert doc["matcher.max_bucket"]["origin"].endswith(os.path.join("config", "matcher.yaml"))
    assert doc["home"] == {"value": str(home), "origin": "environment variable EARWITNESS_HOME"}
    assert "hunter2" not in res.stdout and "ew:***@127.0.0.1" in doc["store_url"]["value"]
    text = run("--home", str(tmp_path / "h2"), "config", "show", "home", "--origin").stdout
    assert text.split() == ["home", str(tmp_path / "h2"), "#", "the", "--home", "option"]
    assert run("config", "show", "nosuch").exit_code == 1


def test_the_default_home_does_not_depend_on_the_current_directory(tmp_path, monkeypatch):
    from earwitness.kernel import settings
    monkeypatch.delenv("EARWITNESS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    homes = set()
    for cwd in (tmp_path / "a", tmp_path / "b"):
        cwd.mkdir()
        monkeypatch.chdir(cwd)
        homes.add(settings.load().home)
    assert homes == {tmp_path / "user" / ".local" / "share" / "earwitness"}


def test_status_says_which_data_home_it_uses(home):
    res = run("--home", str(home), "status")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0].startswith(f"data home: {home}  (from the --home option")
    doc = json.loads(run("status", "--json").stdout)
    assert doc["home"]["path"] == str(home) and doc["home"]["origin"] == "environment variable EARWITNESS_HOME"


def test_demo_has_its_own_port_and_a_closing_hint_that_runs(home):
    res = run("demo", "--help")
    assert res.exit_code == 0 and "--port" in res.stdout
    from earwitness.app import demo
    import inspect
    source = inspect.getsource(demo._run)
    hints = [line.split("earwitness{home_flag} ")[1].split("  ")[0] for line in source.splitlines()
             if "earwitness{home_flag} " in line]
    assert hints == ["detections list", "cases list", "status"]
    for hint in hints:
        assert run(*hint.split()).exit_code == 0, hint


def test_numbers_never_print_negative_zero():
    from earwitness.kernel import output
    assert output.number(-0.001) == "0.00" and output.number(-0.0, 1) == "0.0" and output.number(-1.5, 1) == "-1.5"
    assert output.signed(-0.01) == "+0.0" and output.signed(2.04) == "+2.0"
    assert json.loads(output.to_json({"x": -0.0}))["x"] == 0.0 and "-0" not in output.to_json([-0.0])


def test_list_table_json_and_csv_agree(home):
    from earwitness.kernel import output
    rows = [{"id": "w1", "title": "Song, with comma", "n": 1.0, "tags": ["a", "b"]}, {"id": "w2", "title": None, "n": -0.0}]
    cols = [output.Column("id", "id"), output.Column("title", "title"), output.Column("n", "n")]
    table = output.table(rows, cols).splitlines()
    assert table[0].split() == ["ID", "TITLE", "N"] and table[1].startswith("w1") and table[2].split() == ["w2", "-", "0.00"]
    csv_text = output.to_csv(rows).splitlines()
    assert csv_text[0] == "id,title,n,tags" and csv_text[1] == 'w1,"Song, with comma",1.0,"[""a"", ""b""]"'
    assert csv_text[2] == "w2,,0.0,"
