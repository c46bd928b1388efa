"""One per-domain pace for every path of a crawl (crawler/politeness.py), measured on a local server."""

from __future__ import annotations

import threading
import time

import pytest

from tests.crawler.hostile import HostileSite


def test_slots_are_spaced_per_domain_across_threads():
    from crawler.politeness import DomainLimiter
    limiter = DomainLimiter()
    waits = []
    threads = [threading.Thread(target=lambda: waits.append(limiter.reserve("a.example", 0.5))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(round(w, 1) for w in waits) == [0.0, 0.5, 1.0, 1.5]
    assert limiter.reserve("b.example", 0.5) == 0.0          # another domain has its own pace
    limiter.hold("b.example", 3.0)
    assert 2.9 < limiter.reserve("b.example", 0.5) <= 3.0


@pytest.fixture
def slow_site(home, monkeypatch):
    from earwitness.kernel import settings
    monkeypatch.setenv("EARWITNESS__CRAWLER__REQUESTS_PER_SECOND", "4")
    monkeypatch.setenv("EARWITNESS__CRAWLER__RETRY__BACKOFF_BASE_S", "0.01")
    monkeypatch.setenv("EARWITNESS__CRAWLER__RETRY__TIMES", "1")
    settings.configure(home)
    site = HostileSite(retry_after="2")
    yield site
    site.close()


def test_ytdlp_requests_keep_the_domain_pace_and_a_retry_after_holds_it(slow_site):
    """Six extractions at 4 requests a second take at least 1.25 s; a 429 with Retry-After: 2
    holds the domain, so the next request to it (any path) waits about 2 s."""
    from crawler import media, politeness
    from crawler.errors import Refused
    url = slow_site.url
    t0 = time.monotonic()
    for i in range(6):
        media.extract(f"{url}/media/p{i}.wav")
    assert time.monotonic() - t0 >= 1.2
    with pytest.raises(Refused) as err:
        media.extract(f"{url}/status/429")       # retried once after the Retry-After, then a wall
    assert (err.value.kind, err.value.reason) == ("blocked", "rate_limited")
    t1 = time.monotonic()
    politeness.wait(f"{url}/media/after.wav", None)
    assert time.monotonic() - t1 > 1.0           # the hold from the last 429 is still on
