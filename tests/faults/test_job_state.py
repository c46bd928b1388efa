"""Issue 16: a failed or partial run of any daemon job is red in the mirror (and in the review app).

Job runs are records mirrored through the outbox like cases (family ``job_runs``):
the search server (osmem-server on 127.0.0.1, as in tests/elastic) holds one
document per run with its status, ``red`` and its first error line.
"""

from __future__ import annotations

from earwitness.app import jobs
from earwitness.app.elastic import sync as es_sync


def _spec(job_id: str, func: str) -> jobs.JobSpec:
    return jobs.JobSpec(id=job_id, func=func, trigger={"interval": {"minutes": 1}})


def test_failed_and_partial_runs_are_red_documents_in_the_mirror(es_settings, home, store):
    ok = jobs.run_job("tick", store=store, spec=_spec("tick", "jobfuncs:tick"))
    failed = jobs.run_job("boom", store=store, spec=_spec("boom", "jobfuncs:fail"))
    partial = jobs.run_job("half", store=store, spec=_spec("half", "job_results:half_done"))
    assert (ok["status"], failed["status"], partial["status"]) == ("ok", "failed", "partial")
    res = es_sync.sync(store)
    assert res.failed == 0 and res.remaining == 0, res.as_dict()
    es = es_settings.client()
    alias = f"{es_settings.prefix}-job_runs"
    es.indices.refresh(index=alias)
    docs = {h["_source"]["job_id"]: h["_source"] for h in es.search(index=alias, size=50)["hits"]["hits"]}
    assert {j: (d["status"], d["red"]) for j, d in docs.items()} == {
        "tick": ("ok", False), "boom": ("failed", True), "half": ("partial", True)}
    assert "this job always fails" in docs["boom"]["error_line"]
    assert "clip c2: broken record" in docs["half"]["error_line"]
    assert '"done": 1' in docs["half"]["result_json"] and docs["half"]["seconds"] >= 0
    red = es.search(index=alias, query={"term": {"red": True}}, size=50)["hits"]["hits"]
    assert sorted(h["_source"]["job_id"] for h in red) == ["boom", "half"]


def test_a_run_moving_from_running_to_failed_updates_its_one_document(es_settings, home, store):
    from earwitness.app.daemon_models import JobRun
    with store.session() as s:
        s.add(JobRun(job_id="crawl:fixture", trigger="schedule", status="running", host=jobs.HOST, pid=1))
    es_sync.sync(store)
    with store.session() as s:
        run = s.query(JobRun).one()
        run.status, run.error = "failed", "the crawl reached nothing: 27 listings refused"
    es_sync.sync(store)
    es = es_settings.client()
    alias = f"{es_settings.prefix}-job_runs"
    es.indices.refresh(index=alias)
    hits = es.search(index=alias, size=10)["hits"]["hits"]
    assert len(hits) == 1
    doc = hits[0]["_source"]
    assert (doc["status"], doc["red"], doc["family"], doc["site"]) == ("failed", True, "crawl", "fixture")
