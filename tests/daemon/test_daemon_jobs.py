"""Job registry and runner, in process: configuration, dependency order, failures reported."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from daemon_helpers import write_config
from earwitness.app import jobs
from earwitness.app.cli import main


def test_per_site_jobs_order_and_overrides(home):
    cfg = {
        "jobs": {
            "crawl": {"func": "jobfuncs:tick", "per_site": True, "sites_from": "jobfuncs_sites:names",
                      "trigger": {"interval": {"minutes": 30}}, "order": 10},
            "later": {"func": "jobfuncs:tick", "trigger": {"cron": {"day": 1}}, "order": 90, "once": False},
            "off": False,
        },
        "sites": {"b": {"trigger": {"interval": {"minutes": 5}}, "kwargs": {"limit": 3}}, "a": {}},
    }
    specs = jobs.load_jobs(cfg)
    # sites_from is missing: the listing is reported as its own job, named sites still run
    assert [s.id for s in specs] == ["crawl:a", "crawl:b", "crawl:sites", "later"]
    b = next(s for s in specs if s.id == "crawl:b")
    assert b.args == ("b",) and b.kwargs == {"limit": 3} and b.trigger == {"interval": {"minutes": 5}}
    assert next(s for s in specs if s.id == "later").once is False


@pytest.mark.parametrize("bad", [{"every": 5}, {"interval": 5}, {"interval": {}, "cron": {}}])
def test_bad_trigger_is_a_clear_error(home, bad):
    with pytest.raises(jobs.JobConfigError, match="trigger"):
        jobs.load_jobs({"jobs": {"x": {"func": "jobfuncs:tick", "trigger": bad}}})


def test_once_runs_in_order_and_a_failure_stops_nothing(home, store):
    write_config(home, {
        "c_last": {"func": "jobfuncs:tick", "args": ["c"], "trigger": {"interval": {"minutes": 1}}, "order": 30},
        "a_first": {"func": "jobfuncs:tick", "args": ["a"], "trigger": {"interval": {"minutes": 1}}, "order": 10},
        "boom": {"func": "jobfuncs:fail", "trigger": {"interval": {"minutes": 1}}, "order": 15},
        "monthly": {"func": "jobfuncs:tick", "args": ["m"], "trigger": {"cron": {"day": 1}},
                    "order": 40, "once": False},
    })
    res = CliRunner().invoke(main, ["--home", str(home), "daemon", "--once", "--json"])
    assert res.exit_code == 1, res.output              # a job failed: non-zero, but all ran
    out = json.loads(res.output[res.output.index("["):])
    assert [(r["job"], r["status"]) for r in out] == [
        ("a_first", "ok"), ("boom", "failed"), ("c_last", "ok")]
    assert (home / "ticks.txt").read_text().split()[::2] == ["a", "c"]
    assert "this job always fails" in out[1]["error"]
    # asked for: the monthly job runs too
    res = CliRunner().invoke(main, ["--home", str(home), "daemon", "--once", "--only", "monthly"])
    assert res.exit_code == 0 and "monthly" in res.output
    st = json.loads(CliRunner().invoke(main, ["--home", str(home), "status", "--json"]).stdout)
    by_job = {j["job"]: j for j in st["jobs"]}
    assert by_job["boom"]["last_status"] == "failed" and "always fails" in by_job["boom"]["last_error"]
    assert by_job["monthly"]["last_status"] == "ok" and by_job["a_first"]["last_result"] == {"label": "a"}
    # no record changed: the outbox holds only the four runs, each started and finished (family job_runs)
    assert by_job["a_first"]["scheduled"] is False and st["backlog"]["outbox"] == 8
    text = CliRunner().invoke(main, ["--home", str(home), "status"]).output
    assert "boom" in text and "failed" in text and "RuntimeError" in text


def test_report_with_ok_false_counts_as_failed(home, store):
    write_config(home, {"r": {"func": "jobfuncs_report:bad_report", "trigger": {"interval": {"minutes": 1}}}})
    (home / "jobfuncs_report.py").write_text(
        "def bad_report():\n    return {'ok': False, 'errors': ['layout changed on /search']}\n")
    import sys
    sys.path.insert(0, str(home))
    try:
        res = jobs.run_job("r", "manual", store=store)
    finally:
        sys.path.remove(str(home))
    assert res["status"] == "failed" and "layout changed" in res["error"]


def test_interrupted_runs_are_marked(home, store):
    from earwitness.app.daemon_models import JobRun
    with store.session() as s:
        s.add(JobRun(job_id="x", trigger="schedule", status="running", host=jobs.HOST, pid=2 ** 22 + 12345))
    assert jobs.last_runs(store)["x"]["status"] == "interrupted"
    assert jobs.mark_interrupted(store) == ["x"]
    assert jobs.mark_interrupted(store) == []
    with store.session() as s:
        assert s.get(JobRun, s.query(JobRun.id).scalar()).status == "interrupted"


def test_broken_site_config_is_reported_and_other_jobs_run(home, store):
    """A site YAML that does not parse fails its own crawl job only."""
    (home / "sites").mkdir()
    (home / "sites" / "broken.yaml").write_text("name: broken\nplatform: [unclosed\n")
    from crawler.config import SITES_DIR
    shipped = {path.stem: False for path in SITES_DIR.glob("*.yaml")}   # only the broken site is crawled
    write_config(home, {
        "crawl": {"func": "earwitness.app.stage_jobs:crawl", "per_site": True, "sites_from": "crawler.config:site_files",
                  "args": ["{site}"], "trigger": {"interval": {"minutes": 60}}, "order": 10},
        "after": {"func": "jobfuncs:tick", "args": ["after"], "trigger": {"interval": {"minutes": 1}}, "order": 20},
    }, sites=shipped)
    res = CliRunner().invoke(main, ["--home", str(home), "daemon", "--once", "--json"])
    out = json.loads(res.output[res.output.index("["):])
    assert [(r["job"], r["status"]) for r in out] == [("crawl:broken", "failed"), ("after", "ok")]
    assert "SiteConfigError" in out[0]["error"] and "broken" in out[0]["error"]
    st = json.loads(CliRunner().invoke(main, ["--home", str(home), "status", "--json"]).stdout)
    row = next(j for j in st["jobs"] if j["job"] == "crawl:broken")
    assert row["last_status"] == "failed" and "SiteConfigError" in row["last_error"]


def test_daemon_refuses_a_bad_cron_trigger_clearly(home, store):
    write_config(home, {"m": {"func": "jobfuncs:tick", "trigger": {"cron": {"day": 40}}}})
    res = CliRunner().invoke(main, ["--home", str(home), "daemon"])
    assert res.exit_code == 1 and "job 'm': bad cron trigger" in res.output


def test_a_job_whose_function_cannot_be_imported_stops_the_start(home):
    """No job is quietly 'unavailable': a missing module is a configuration error naming the job."""
    write_config(home, {"missing": {"func": "no_such_pkg.mod:fn", "trigger": {"interval": {"minutes": 1}}}})
    res = CliRunner().invoke(main, ["--home", str(home), "daemon", "--once"])
    assert res.exit_code != 0
    assert "job 'missing'" in res.output and "no_such_pkg" in res.output
