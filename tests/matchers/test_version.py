"""The matcher's version covers everything that changes a verdict, so a stored verdict is reused only when
the same matcher would give it again."""

from __future__ import annotations

import dataclasses

from matchers import match
from matchers.match import Matcher, verdict_digest


def test_query_settings_and_the_threshold_change_the_version(matcher):
    same = Matcher(matcher.index, matcher.qcfg)
    stricter = Matcher(matcher.index, dataclasses.replace(matcher.qcfg, threshold=matcher.qcfg.threshold + 1))
    wider = Matcher(matcher.index, dataclasses.replace(matcher.qcfg, max_tempo_ratio=matcher.qcfg.max_tempo_ratio + 0.1))
    assert same.version == matcher.version
    assert len({matcher.version, stricter.version, wider.version}) == 3


def test_a_module_constant_of_the_matcher_changes_the_version(matcher, monkeypatch):
    before = verdict_digest(matcher.cfg, matcher.qcfg)
    name = next(k for k, v in vars(match).items() if k.isupper() and isinstance(v, float))
    monkeypatch.setattr(match, name, getattr(match, name) * 1.5)
    assert verdict_digest(matcher.cfg, matcher.qcfg) != before
