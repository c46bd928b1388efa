"""Statutory periods: when a counter-notice period ends, by the law it runs under.

- 民法典 Art. 201/203 (periods in days, China): the day of receipt does not count; the
  period starts the next day; its last day ends at 24:00 Beijing time; a last day
  that is a statutory rest day (a holiday or a weekend that is not a 调休 working
  day) moves to the next working day. Working days come from ``chinesecalendar``
  (the State Council's published schedule, 调休 included), not a hand-kept list; a
  year the library has no schedule for is refused, not guessed.
- 电子商务法 Art. 43: 15 days from the counter-notice reaching the *platform*.
- 民法典 Art. 1196: a reasonable period (configured, 15 days) from the forwarded
  counter-notice reaching the *rights holder*.
- 17 U.S.C. 512(g)(2)(C): not less than 10 nor more than 14 business days after the
  *service provider's* receipt; business days skip weekends and US federal
  holidays (``holidays``), counted in the provider's zone.

Each basis names whose receipt it counts from (:data:`COUNTS_FROM`); times are
returned timezone-aware with their real zone beside the UTC value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays as holidays_lib

from notices.exceptions import MissingDetails

CN_ZONE = ZoneInfo("Asia/Shanghai")
US_ZONE = ZoneInfo("America/New_York")

LAWS = {
    "ecommerce_art43": "电子商务法 第四十三条 (15 days from the platform's receipt; 民法典 Art. 201/203)",
    "civil_code_1196": "民法典 第一千一百九十六条 (reasonable period from the rights holder's receipt; "
                       "Art. 201/203)",
    "dmca_512g": "17 U.S.C. 512(g)(2)(C) (10-14 business days after the service provider's receipt)",
}
# whose receipt of the counter-notice each basis counts from
COUNTS_FROM = {"ecommerce_art43": "platform", "civil_code_1196": "rights_holder", "dmca_512g": "platform"}


@dataclass(frozen=True)
class Period:
    basis: str
    received_at: datetime        # the receipt it counts from
    counts_from: str             # platform | rights_holder
    ends_at: datetime            # 24:00 of the last day, in ``zone``
    zone: str
    details: dict

    def as_details(self) -> dict:
        return {"law": LAWS[self.basis], "counts_from": self.counts_from, "zone": self.zone,
                "deadline_local": self.ends_at.isoformat(), **self.details}


def cn_is_working_day(day: date) -> bool:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError as exc:
        raise MissingDetails(f"no statutory holiday schedule for {day.year} in chinesecalendar "
                             f"(it covers published years only; update the library): {exc}") from None


def cn_period_end(received_at: datetime, days: int) -> tuple[datetime, dict]:
    """民法典 Art. 201/203: the end (24:00 Beijing) of ``days`` days from ``received_at``."""
    local = received_at.astimezone(CN_ZONE)
    first = local.date() + timedelta(days=1)                 # Art. 201: the next day
    last = first + timedelta(days=days - 1)
    nominal, rolled = last, []
    while not cn_is_working_day(last):                       # Art. 203: past a rest day
        rolled.append(last.isoformat())
        last += timedelta(days=1)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=CN_ZONE)   # 24:00 of the last day
    return end, {"days": days, "first_day": first.isoformat(), "nominal_last_day": nominal.isoformat(),
                 "last_day": last.isoformat(), "rolled_past": rolled}


def us_business_days_end(received_at: datetime, n: int, *, extra_closed: Iterable[date] = ()) -> tuple[datetime, date]:
    """The end (24:00 US Eastern) of the ``n``-th business day after ``received_at``."""
    local = received_at.astimezone(US_ZONE)
    closed = set(extra_closed)
    years = range(local.year, local.year + 2)
    federal = holidays_lib.US(years=years, categories=("public",))
    day, left = local.date(), n
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in federal and day not in closed:
            left -= 1
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=US_ZONE), day


def period(basis: str, received_at: datetime, conf) -> Period:
    """The counter-notice period under ``basis`` from ``received_at``; ``conf`` is ``notices.dispute``."""
    if received_at.tzinfo is None:
        raise MissingDetails("the receipt time needs its zone")
    if basis == "ecommerce_art43":
        end, d = cn_period_end(received_at, int(conf.get("ecommerce_art43_days", 15)))
        return Period(basis, received_at, COUNTS_FROM[basis], end, CN_ZONE.key, d)
    if basis == "civil_code_1196":
        end, d = cn_period_end(received_at, int(conf.get("civil_code_1196_days", 15)))
        return Period(basis, received_at, COUNTS_FROM[basis], end, CN_ZONE.key, d)
    if basis == "dmca_512g":
        low, high = (int(v) for v in conf.get("dmca_512g_business_days", (10, 14)))
        extra = [date.fromisoformat(str(d)) for d in conf.get("holidays", ())]
        earliest, first_day = us_business_days_end(received_at, low, extra_closed=extra)
        latest, last_day = us_business_days_end(received_at, high, extra_closed=extra)
        return Period(basis, received_at, COUNTS_FROM[basis], earliest, US_ZONE.key,
                      {"business_days": [low, high], "restore_not_before_end_of": first_day.isoformat(),
                       "restore_not_after_end_of": last_day.isoformat(),
                       "restore_not_after": latest.isoformat()})
    raise KeyError(basis)


# sample receipts for the deadline tables in docs/notices.md (across Spring Festival, National Day
# and Thanksgiving 2026): (basis, receipt as an ISO time with its zone)
SAMPLES = (
    ("ecommerce_art43", "2026-02-05T10:00:00+08:00"),   # last day falls in the Spring Festival holiday
    ("ecommerce_art43", "2026-02-13T18:30:00+08:00"),   # last day is Saturday 28 Feb, a 调休 working day
    ("civil_code_1196", "2026-01-31T09:00:00+08:00"),   # last day Sunday 15 Feb, first day of the holiday
    ("ecommerce_art43", "2026-09-20T11:00:00+08:00"),   # last day in the National Day holiday
    ("civil_code_1196", "2026-09-25T16:00:00+08:00"),   # last day Saturday 10 Oct, a 调休 working day
    ("dmca_512g", "2026-11-20T15:00:00-05:00"),          # Thanksgiving (26 Nov) is not a business day
    ("dmca_512g", "2026-12-18T09:00:00-05:00"),          # Christmas and New Year's Day skipped
)


def deadline_table(samples=SAMPLES, conf=None) -> str:
    """The Markdown table of :data:`SAMPLES` as the code computes them (docs/notices.md)."""
    conf = conf or {"ecommerce_art43_days": 15, "civil_code_1196_days": 15, "dmca_512g_business_days": [10, 14]}
    lines = ["| basis | received (counts from) | nominal last day | rolled past | period ends | ends (UTC) |",
             "|---|---|---|---|---|---|"]
    names = {"Asia/Shanghai": "Beijing", "America/New_York": "New York"}
    for basis, received in samples:
        p = period(basis, datetime.fromisoformat(received), conf)
        d = p.details
        nominal = d.get("nominal_last_day") or d.get("restore_not_before_end_of")
        rolled = ", ".join(x[5:] for x in d.get("rolled_past", [])) or "-"
        if basis == "dmca_512g":
            rolled = f"latest: end of {d['restore_not_after_end_of']}"
        last = d.get("last_day") or d.get("restore_not_before_end_of")
        lines.append(f"| {basis} | {received} ({p.counts_from}) | {nominal} | {rolled} | "
                     f"{last} 24:00 {names.get(p.zone, p.zone)} | "
                     f"{p.ends_at.astimezone(ZoneInfo('UTC')).strftime('%Y-%m-%d %H:%M')} |")
    return "\n".join(lines)
