"""The daemon's log lines carry their job and site, as text or JSON lines, to a file or stderr."""

from __future__ import annotations

import json
import logging

import yaml
from click.testing import CliRunner

from earwitness.app import logs
from earwitness.app.cli import main


def test_each_line_carries_the_context_it_was_written_in(tmp_path):
    path = tmp_path / "daemon.log"
    logs.configure(level=logging.INFO, fmt="json", file=str(path))
    try:
        log = logging.getLogger("earwitness.test")
        with logs.context(job="crawl:bili", site="bili"):
            with logs.context(clip_id="01J0CLIP"):
                log.warning("fetch failed: %s", "HTTP 503")
            log.info("done")
        log.info("outside")
    finally:
        logs.reset()
    first, second, third = (json.loads(line) for line in path.read_text().splitlines())
    assert first["msg"] == "fetch failed: HTTP 503" and first["level"] == "warning"
    assert (first["job"], first["site"], first["clip_id"]) == ("crawl:bili", "bili", "01J0CLIP")
    assert second["job"] == "crawl:bili" and "clip_id" not in second
    assert "job" not in third and third["ts"].endswith("+00:00")


def test_plain_lines_name_the_job_too():
    record = logging.LogRecord("earwitness.app.jobs", logging.WARNING, __file__, 1, "job %s: failed", ("x",), None)
    with logs.context(job="crawl:x", site="x"):
        logs.ContextFilter().filter(record)
    line = logs.PlainFormatter(with_time=False).format(record)
    assert line == "WARNING earwitness.app.jobs: job x: failed  (job=crawl:x site=x)"


def test_daemon_once_writes_json_lines_with_job_and_site(home, store):
    (home / "sites").mkdir()
    (home / "sites" / "broken.yaml").write_text("name: broken\nplatform: [unclosed\n")
    from earwitness.kernel import settings
    shipped = settings.get().section("scheduler")["jobs"]
    jobs = {name: False for name in shipped}
    jobs["crawl"] = {"func": "earwitness.app.stage_jobs:crawl", "per_site": True,
                     "sites_from": "crawler.config:site_files", "args": ["{site}"],
                     "trigger": {"interval": {"minutes": 60}}, "order": 10}
    config = {"scheduler": {"jobs": jobs}}
    (home / "earwitness.yaml").write_text(yaml.safe_dump(config))
    from earwitness.app import jobs as job_registry
    settings.configure(home)
    others = [s.id.split(":", 1)[1] for s in job_registry.load_jobs() if s.id.startswith("crawl:")]
    config["scheduler"]["sites"] = {name: False for name in others if name != "broken"}   # only the broken one runs
    (home / "earwitness.yaml").write_text(yaml.safe_dump(config))
    settings.configure(home)
    log_file = home / "daemon.log"
    try:
        res = CliRunner().invoke(main, ["daemon", "--once", "--log-format", "json", "--log-file", str(log_file),
                                        "--home", str(home)])
    finally:
        logs.reset()
    assert res.exit_code == 1, res.output           # the broken site's crawl failed
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert {d.get("job") for d in lines} <= {"crawl:broken", None}
    failed = [d for d in lines if d["msg"].startswith("job crawl:broken: failed")]
    assert failed and failed[0]["job"] == "crawl:broken" and failed[0]["site"] == "broken"
    assert failed[0]["level"] == "warning"
