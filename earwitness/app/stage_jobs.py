"""The daemon's stage jobs with their collaborators wired in: the one place the stages meet.

Each function is what ``config/scheduler.yaml`` names for a job. The crawler is handed
the matcher as what to call when a clip is stored; the re-check is handed the crawler's
probe and the matcher's audio test. Swapping "match now" for "enqueue" is a change here.
"""

from __future__ import annotations

import functools
from pathlib import Path
from threading import Event

from crawler import ingest, live, recheck as crawler_recheck, run
from earwitness.app import matching
from earwitness.app import sections as _sections  # noqa: F401  (the sections read here are typed)
from earwitness.kernel import settings
from earwitness.kernel.store.case_models import Case
from matchers.audio import load_audio
from notices import config as notices_config, jobs as notices_jobs


def clip_sink() -> ingest.ClipSink:
    """What a crawl does with each stored clip (``workers.match_mode``): match it now, or
    enqueue it for the matcher workers (:mod:`earwitness.app.match_queue`)."""
    if settings.get().section("workers")["match_mode"] == "queue":
        from earwitness.app import match_queue
        return match_queue.enqueue_clip
    return matching.match_stored_clip


def crawl(site: str, **kwargs) -> run.CrawlReport:
    """Crawl one site; each stored clip is matched at once or enqueued (``earwitness crawl`` does the same)."""
    return run.crawl_site(site, on_clip_stored=clip_sink(), **kwargs)


def live_round(**kwargs) -> live.LiveReport:
    """One round of live sampling; each window is matched as it is stored (always inline: a hit
    starts the evidence recording while the room is still playing it)."""
    return live.sample_rooms(matching.match_stored_clip, **kwargs)


def live_watch(**kwargs) -> dict:
    """Continuous watching of the watch list within the room budget (``live.watch``) for one period."""
    from crawler import watch
    return watch.watch_rooms(matching.match_stored_clip, **kwargs)


def audio_still_matches(case: Case, audio_path: Path) -> bool:
    """Whether re-fetched audio still holds one of the case's works, by the matcher's verdict."""
    matcher = matching.get_matcher()
    found = {m.work_id for m in matcher.reported(load_audio(audio_path, sr=matcher.cfg.sample_rate))}
    return bool(found & set(case.work_ids()))


def recheck(store, *, stop: Event | None = None, deadline_s: float | None = None) -> dict:
    """Re-check sent cases through the crawler's fetch path and the matcher's audio test.

    The daemon hands ``stop`` (set on SIGTERM); ``deadline_s`` (a job kwarg in
    ``config/scheduler.yaml``) bounds one run. Either ends the loop between cases;
    the cases left stay due and the next run takes them.
    """
    probe = functools.partial(crawler_recheck.probe, fetch_audio=bool(notices_config.get("recheck_audio")))
    return notices_jobs.recheck(store, probe=probe, audio_check=audio_still_matches, stop=stop,
                                deadline_s=deadline_s)
