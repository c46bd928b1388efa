"""Issue 16: the Status page shows each daemon job's last run, red when failed, partial or interrupted,
with the count of red jobs next to "Status" on every page's menu."""

from __future__ import annotations


def _runs(store):
    from earwitness.app import jobs
    for job_id, func in (("tick", "jobfuncs:tick"), ("boom", "jobfuncs:fail"), ("half", "job_results:half_done")):
        jobs.run_job(job_id, store=store, spec=jobs.JobSpec(id=job_id, func=func, trigger={"interval": {"minutes": 1}}))


def test_status_page_shows_red_runs_and_the_menu_counts_them(client, users, store, monkeypatch):
    import sys
    from pathlib import Path
    tests = Path(__file__).resolve().parents[1]
    monkeypatch.syspath_prepend(str(tests / "daemon"))      # jobfuncs: tick, fail
    monkeypatch.syspath_prepend(str(tests / "faults"))      # job_results: a job that did half its work
    sys.modules.pop("job_results", None)
    _runs(store)
    client.login("ann", users["ann"])
    page = client.get("/status/")
    assert page.status == 200, page.text
    html = page.text
    rows = {job: html.split(f'data-job="{job}"')[1].split("</tr>")[0] for job in ("tick", "boom", "half")}
    assert 'data-status="ok"' in rows["tick"] and 'class="ok"' in rows["tick"]
    assert 'data-status="failed"' in rows["boom"] and 'class="bad"' in rows["boom"]
    assert "this job always fails" in rows["boom"]
    assert 'data-status="partial"' in rows["half"] and 'class="bad"' in rows["half"]
    assert "clip c2: broken record" in rows["half"]
    red = html.split('id="jobs-red"')[1].split("</section>")[0]
    assert "2 jobs not ok" in red and "boom" in red and "half" in red and "tick" not in red
    other = client.get("/cases/").text                       # any page: the menu says 2 jobs are red
    nav = other.split('id="nav-status"')[1].split("</a>")[0]
    assert ">2</b>" in nav


def test_status_page_with_no_runs_says_how_to_start(client, users):
    client.login("ann", users["ann"])
    page = client.get("/status/")
    assert page.status == 200 and "No job has run yet" in page.text
    assert 'id="nav-status">Status</a>' in page.text         # no badge when nothing is red
    assert client.get("/status/").status == 200


def test_status_page_needs_a_login(client):
    assert client.get("/status/").status in (302, 303)
