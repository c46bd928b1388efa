"""Statutory periods, checked by hand against the 2026 schedules (State Council 调休 notice, US federal holidays)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from earwitness.kernel import settings
from notices import calendars
from notices.exceptions import MissingDetails

CONF = {"ecommerce_art43_days": 15, "civil_code_1196_days": 15, "dmca_512g_business_days": [10, 14]}
UTC = timezone.utc


@pytest.mark.parametrize("basis,received,last_day,ends_utc", [
    # 5 Feb: days from 6 Feb; the 15th (20 Feb) is in the Spring Festival holiday (15-23 Feb): 24 Feb
    ("ecommerce_art43", "2026-02-05T10:00:00+08:00", "2026-02-24", datetime(2026, 2, 24, 16, 0, tzinfo=UTC)),
    # 13 Feb: the 15th day is Saturday 28 Feb, a 调休 working day: no roll although it is a Saturday
    ("ecommerce_art43", "2026-02-13T18:30:00+08:00", "2026-02-28", datetime(2026, 2, 28, 16, 0, tzinfo=UTC)),
    # 23:30 UTC on 13 Feb is 07:30 on 14 Feb in Beijing: days from 15 Feb, the 15th is 1 Mar (Sunday): 2 Mar
    ("ecommerce_art43", "2026-02-13T23:30:00+00:00", "2026-03-02", datetime(2026, 3, 2, 16, 0, tzinfo=UTC)),
    # 31 Jan: the 15th day, 15 Feb, opens the holiday: 24 Feb
    ("civil_code_1196", "2026-01-31T09:00:00+08:00", "2026-02-24", datetime(2026, 2, 24, 16, 0, tzinfo=UTC)),
    # 20 Sep: the 15th day, 5 Oct, is in the National Day holiday (1-7 Oct): 8 Oct
    ("ecommerce_art43", "2026-09-20T11:00:00+08:00", "2026-10-08", datetime(2026, 10, 8, 16, 0, tzinfo=UTC)),
    # 25 Sep: the 15th day is Saturday 10 Oct, a 调休 working day
    ("civil_code_1196", "2026-09-25T16:00:00+08:00", "2026-10-10", datetime(2026, 10, 10, 16, 0, tzinfo=UTC)),
])
def test_chinese_periods(basis, received, last_day, ends_utc):
    p = calendars.period(basis, datetime.fromisoformat(received), CONF)
    assert p.details["last_day"] == last_day and p.ends_at == ends_utc
    assert p.zone == "Asia/Shanghai" and p.ends_at.astimezone(calendars.CN_ZONE).hour == 0


@pytest.mark.parametrize("received,earliest,latest", [
    # Fri 20 Nov: 23,24,25 Nov, (26 Thanksgiving), 27 Nov, 30 Nov, 1-4 Dec, 7 Dec = 10; 8-11 Dec = 14
    ("2026-11-20T15:00:00-05:00", "2026-12-07", "2026-12-11"),
    # Fri 18 Dec: 21-24 Dec, (25 Christmas), 28-31 Dec, (1 Jan), 4, 5 Jan = 10; 6, 7, 8, 11 Jan = 14
    ("2026-12-18T09:00:00-05:00", "2027-01-05", "2027-01-11"),
])
def test_dmca_business_days(received, earliest, latest):
    p = calendars.period("dmca_512g", datetime.fromisoformat(received), CONF)
    assert (p.details["restore_not_before_end_of"], p.details["restore_not_after_end_of"]) == (earliest, latest)
    assert p.ends_at.date() == date.fromisoformat(earliest).replace(day=date.fromisoformat(earliest).day + 1)


def test_receipt_bases_are_kept_apart():
    assert calendars.COUNTS_FROM == {"ecommerce_art43": "platform", "civil_code_1196": "rights_holder",
                                     "dmca_512g": "platform"}


def test_a_year_without_a_published_schedule_is_refused():
    with pytest.raises(MissingDetails, match="no statutory holiday schedule for 2031"):
        calendars.period("ecommerce_art43", datetime(2031, 3, 2, tzinfo=UTC), CONF)


def test_docs_table_is_the_codes():
    doc = (settings.CONFIG_DIR.parent / "docs" / "notices.md").read_text("utf-8")
    assert calendars.deadline_table() in doc
