"""The monthly monitoring report: external monitoring, computed from the records alone, traceable and self-checked.

One clock: every figure is counted at one instant, ``as_of`` (the month's end, or
now for a month not yet over): records and events after it are not seen, and a
case's outcome is its state at that instant, replayed from its events. Month
bounds are in the team's ``local_timezone`` (Asia/Shanghai as shipped).

Every figure is the number of records behind it: :attr:`Report.sources` keeps,
per platform and figure, the ids of the detections, cases or letters counted,
and the report prints them in an annex, so any number can be traced to records.
:meth:`Report.check` proves the figures agree with each other (the outcomes
partition the verified cases, totals are the sum of platforms, the letters by
jurisdiction are the letters sent, the cases notified are the cases of those
letters...) and :func:`trace` that every id names a record of its kind. Both
raise :class:`ReportInconsistent`; :func:`monthly` and :func:`write` call them
on every run (no flag turns them off, and they are not ``assert``), and
:func:`write` writes nothing unless they pass. Written in Chinese and English,
as Markdown and as A4 PDF with charts (reportlab's graphics).
"""

from __future__ import annotations

import statistics
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from earwitness.kernel import settings
from earwitness.kernel.store.case_models import Case, CaseEvent, Notice
from earwitness.kernel.store.models import Clip, Detection, Work, utcnow
from notices.exceptions import NoticesError


class ReportInconsistent(NoticesError):
    """The report's figures do not agree with each other or with the records: not published."""


# a verified case's outcome at the clock, from its state (closed cases: from how they closed)
OUTCOMES = ("removed", "resolved", "pending", "disputed", "refused", "withdrawn")
_OUTCOME_OF_STATE = {"confirmed": "pending", "notice_drafted": "pending", "notice_sent": "pending",
                     "removed": "removed", "resolved": "resolved", "disputed": "disputed",
                     "restored": "disputed", "escalated": "disputed", "rejected": "refused"}
# each figure and the kind of record it counts
FIGURE_RECORDS = {
    "found": "detection", "reviewed": "detection", "rejected": "detection",
    "verified": "case", "reuploads": "case", "notified": "case", "letters": "notice",
    **{o: "case" for o in OUTCOMES},
    "removed_in_month": "case", "pending_at_end": "case", "overdue_at_end": "case",
}
FIGURES = tuple(FIGURE_RECORDS)
COUNTS = tuple(k for k in FIGURES if k not in OUTCOMES)
LANGS = ("zh", "en")


def previous_month(now: datetime) -> str:
    zone = settings.get().local_zone
    first = now.astimezone(zone).date().replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[datetime, datetime, ZoneInfo]:
    try:
        y, m = (int(p) for p in month.split("-"))
        start_d = date(y, m, 1)
    except ValueError as exc:
        raise NoticesError(f"month must be YYYY-MM, got {month!r}") from exc
    zone = settings.get().local_zone
    end_d = date(y + (m == 12), m % 12 + 1, 1)
    return (datetime(start_d.year, start_d.month, 1, tzinfo=zone),
            datetime(end_d.year, end_d.month, 1, tzinfo=zone), zone)


def _empty_row() -> dict[str, list[str]]:
    return {k: [] for k in FIGURES}


@dataclass
class Report:
    month: str
    timezone: str
    start: datetime
    end: datetime
    as_of: datetime                      # the one clock: every figure is counted at this instant
    platforms: dict[str, dict] = field(default_factory=dict)   # platform -> figure -> count
    totals: dict = field(default_factory=dict)
    sources: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # platform -> figure -> ids
    letter_cases: dict[str, list[str]] = field(default_factory=dict)   # platform -> cases of the letters sent
    letters_by_jurisdiction: dict[str, int] = field(default_factory=dict)
    letters_by_jurisdiction_ids: dict[str, list[str]] = field(default_factory=dict)
    removals: list[dict] = field(default_factory=list)     # {case_id, platform, hours} per removal verified
    weekly: list[dict] = field(default_factory=list)       # week_start, verified, removed (+ their case ids)
    top_works: list[dict] = field(default_factory=list)

    @property
    def removal_hours(self) -> list[float]:
        return [r["hours"] for r in self.removals]

    @property
    def median_hours_to_removal(self) -> float | None:
        return statistics.median(self.removal_hours) if self.removals else None

    def median_hours_on(self, platform: str) -> float | None:
        hours = [r["hours"] for r in self.removals if r["platform"] == platform]
        return statistics.median(hours) if hours else None

    def ids(self, figure: str, platform: str | None = None) -> list[str]:
        """The record ids behind a figure, on one platform or in total."""
        rows = [self.sources[platform]] if platform else list(self.sources.values())
        return sorted(i for r in rows for i in r[figure])

    def check(self) -> None:
        """Every figure agrees with its records and with the others; raises :class:`ReportInconsistent`."""
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise ReportInconsistent(f"report {self.month}: {what}; not published")

        need(self.start <= self.as_of <= self.end, f"the clock {self.as_of} is outside the month")
        need(set(self.platforms) == set(self.sources), "platforms without their records")
        for p, src in self.sources.items():
            for k in FIGURES:
                need(len(set(src[k])) == len(src[k]), f"{p}: a record counted twice in {k}")
                need(self.platforms[p][k] == len(src[k]), f"{p}: {k} is not the number of its records")
            verified = set(src["verified"])
            parts = [set(src[o]) for o in OUTCOMES]
            need(sum(len(x) for x in parts) == len(verified) and set().union(*parts) == verified,
                 f"{p}: the outcomes do not partition the cases verified")
            need(set(src["rejected"]) <= set(src["reviewed"]), f"{p}: a rejection that was not reviewed")
            need(set(src["reuploads"]) <= verified, f"{p}: a re-upload that is not a verified case")
            need(set(src["overdue_at_end"]) <= set(src["pending_at_end"]), f"{p}: overdue but not pending")
            need(sorted(src["notified"]) == sorted(self.letter_cases.get(p, [])),
                 f"{p}: {len(src['notified'])} case(s) notified but the letters sent cover "
                 f"{len(self.letter_cases.get(p, []))}")
        for k in FIGURES:
            need(self.totals[k] == sum(r[k] for r in self.platforms.values()), f"total {k}")
        need(sum(w["verified"] for w in self.weekly) == self.totals["verified"], "weekly verified")
        need(sum(w["removed"] for w in self.weekly) == self.totals["removed_in_month"], "weekly removed")
        need(sorted(i for w in self.weekly for i in w["verified_ids"]) == self.ids("verified"),
             "weekly verified records")
        need(sorted(r["case_id"] for r in self.removals) == self.ids("removed_in_month"),
             "a removal time for each removal verified")
        need(all(r["hours"] >= 0 for r in self.removals), "a removal verified before its notice was sent")
        need(sum(self.letters_by_jurisdiction.values()) == self.totals["letters"],
             "letters by jurisdiction do not add up to the letters sent")
        need(sorted(i for ids in self.letters_by_jurisdiction_ids.values() for i in ids) == self.ids("letters"),
             "letters by jurisdiction are not the letters sent")
        need(all(self.letters_by_jurisdiction[j] == len(ids)
                 for j, ids in self.letters_by_jurisdiction_ids.items()), "letters by jurisdiction: counts")


def pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "n/a"


def _outcome_at(events: list[CaseEvent], clock: datetime) -> str | None:
    """The case's outcome from its events before the clock (None: not yet opened)."""
    state, outcome = None, None
    for ev in events:
        if ev.at >= clock:      # each event by its own time (a back-dated one is counted when it says)
            continue
        if ev.to_state == "closed" and ev.from_state != "closed":
            outcome = ("withdrawn" if ev.event in ("withdraw", "retract_notice")
                       else _OUTCOME_OF_STATE.get(ev.from_state or "", "resolved"))
        state = ev.to_state
    if state is None:
        return None
    return outcome if state == "closed" else _OUTCOME_OF_STATE[state]


def _state_at(events: list[CaseEvent], clock: datetime) -> str | None:
    state = None
    for ev in events:
        if ev.at >= clock:      # each event by its own time (a back-dated one is counted when it says)
            continue
        state = ev.to_state
    return state


def _weeks(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    out, cur = [], start
    while cur < end:
        nxt = datetime.combine(cur.date() + timedelta(days=7 - cur.weekday()), datetime.min.time(),
                               tzinfo=cur.tzinfo)
        out.append((cur, min(nxt, end)))
        cur = nxt
    return out


def monthly(session: Session, month: str, *, as_of: datetime | None = None) -> Report:
    """The month's figures from the detection, case, event and letter records, counted at ``as_of``.

    ``as_of`` defaults to the month's end, or now if the month is not over; a later
    one is refused (it would count what had not happened).
    """
    start, end, zone = month_bounds(month)
    now = utcnow()
    clock = as_of if as_of is not None else min(end, now)
    if clock.tzinfo is None:
        raise NoticesError("as_of must be a timezone-aware time")
    if clock > now:
        raise NoticesError(f"as_of {clock.isoformat()} is in the future")
    if not start < clock <= end:
        raise NoticesError(f"as_of {clock.isoformat()} is outside {month} ({start.isoformat()} to {end.isoformat()})")
    rep = Report(month=month, timezone=str(zone), start=start, end=end, as_of=clock)
    src: dict[str, dict[str, list[str]]] = defaultdict(_empty_row)

    def inside(t: datetime | None) -> bool:
        return t is not None and start <= t < clock

    for det, platform in session.execute(select(Detection, Clip.platform).join(Detection.clip)):
        if inside(det.created_at):
            src[platform]["found"].append(det.id)
        if inside(det.reviewed_at) and det.review_state in ("confirmed", "rejected"):
            src[platform]["reviewed"].append(det.id)
            if det.review_state == "rejected":
                src[platform]["rejected"].append(det.id)
    for notice in session.scalars(select(Notice).where(Notice.sent_at.is_not(None))):
        if inside(notice.sent_at):
            src[notice.platform]["letters"].append(notice.id)
            covered = rep.letter_cases.setdefault(notice.platform, [])
            covered.extend(c.id for c in notice.cases if c.id not in covered)   # a case sent twice: once
            juris = notice.jurisdiction or "?"
            rep.letters_by_jurisdiction_ids.setdefault(juris, []).append(notice.id)
    rep.letters_by_jurisdiction = {j: len(ids) for j, ids in sorted(rep.letters_by_jurisdiction_ids.items())}
    weeks = _weeks(start, clock)
    weekly = [{"week_start": a.date().isoformat(), "verified": 0, "removed": 0, "verified_ids": [],
               "removed_ids": []} for a, _ in weeks]

    def week_of(t: datetime) -> dict:
        return weekly[next(i for i, (a, b) in enumerate(weeks) if a <= t < b)]

    works_count: Counter = Counter()
    for case in session.scalars(select(Case)):     # a letter sent in the month counts its cases, whenever opened
        row = src[case.platform]
        events = list(case.events)
        state = _state_at(events, clock)
        if state in ("confirmed", "notice_drafted", "notice_sent"):
            row["pending_at_end"].append(case.id)
            if state == "notice_sent" and case.sla_due_at is not None and case.sla_due_at < clock:
                row["overdue_at_end"].append(case.id)
        sent_at = None
        for ev in events:
            if ev.at >= clock:
                continue
            if ev.event == "send_notice":
                sent_at = datetime.fromisoformat(ev.details["sent_at"])
                if inside(sent_at) and case.id not in row["notified"]:   # one clock with the letters
                    row["notified"].append(case.id)
            if ev.event == "verify_removed" and inside(ev.at) and case.id not in row["removed_in_month"]:
                row["removed_in_month"].append(case.id)
                week = week_of(ev.at)
                week["removed"] += 1
                week["removed_ids"].append(case.id)
                rep.removals.append({"case_id": case.id, "platform": case.platform,
                                     "hours": round((ev.at - (sent_at or ev.at)).total_seconds() / 3600, 2)})
        if inside(case.opened_at):
            row["verified"].append(case.id)
            week = week_of(case.opened_at)
            week["verified"] += 1
            week["verified_ids"].append(case.id)
            row[_outcome_at(events, clock)].append(case.id)
            if case.previous_case_id:
                row["reuploads"].append(case.id)
            for wid in case.work_ids():
                works_count[wid] += 1
    rep.sources = {p: {k: sorted(v) for k, v in r.items()} for p, r in sorted(src.items())}
    rep.platforms = {p: {k: len(v) for k, v in r.items()} for p, r in rep.sources.items()}
    rep.totals = {k: sum(r[k] for r in rep.platforms.values()) for k in FIGURES}
    rep.weekly = weekly
    for wid, n in sorted(works_count.items(), key=lambda kv: (-kv[1], kv[0]))[:10]:
        w = session.get(Work, wid)
        rep.top_works.append({"work_id": wid, "title": w.title if w else wid,
                              "artist": w.artist if w else "", "cases": n})
    rep.check()
    trace(session, rep)
    return rep


# the figures whose records carry the time they are counted by (the others are counted by events)
_OWN_TIME = {"found": (Detection, "created_at"), "verified": (Case, "opened_at"), "reuploads": (Case, "opened_at"),
             "letters": (Notice, "sent_at")}
_MODELS = {"detection": Detection, "case": Case, "notice": Notice}


def trace(session: Session, rep: Report) -> None:
    """Every id behind a figure names a record of its kind, and a record counted by its own time
    (detections found, cases opened, letters sent) is within the month and before the clock; raises if not."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for row in rep.sources.values():
        for figure, ids in row.items():
            wanted[FIGURE_RECORDS[figure]].update(ids)
    for kind, ids in wanted.items():
        model = _MODELS[kind]
        found = set(session.scalars(select(model.id).where(model.id.in_(sorted(ids)))))
        lost = sorted(ids - found)
        if lost:
            raise ReportInconsistent(f"report {rep.month}: {kind} record(s) {', '.join(lost[:5])} behind its "
                                     "figures do not exist; not published")
    for figure, (model, column) in _OWN_TIME.items():
        ids = rep.ids(figure)
        times = dict(session.execute(select(model.id, getattr(model, column)).where(model.id.in_(ids))).all())
        outside = sorted(i for i, t in times.items() if t is None or not rep.start <= t < rep.as_of)
        if outside:
            raise ReportInconsistent(f"report {rep.month}: {figure}: record(s) {', '.join(outside[:5])} are "
                                     f"outside {rep.start.isoformat()} to the clock {rep.as_of.isoformat()}; "
                                     "not published")


# --- words ------------------------------------------------------------------------------------------

WORDS = {
    "en": {
        "title": "Monitoring report {month}: external monitoring",
        "period": "Period: {a} to {b} ({zone}).",
        "clock": "Every figure is counted as of {t} (one clock for all counts).",
        "median": "Median time from notice sent to verified removal: {h} over {n} removal(s) verified this month.",
        "hours": "{h:.1f} h ({d:.1f} days)", "na": "n/a", "total": "Total",
        "figures": "Figures by platform", "figure": "Figure",
        "outcome_t": "Outcome at the clock of the cases verified this month (% of the cases verified "
                     "this month on that platform)", "outcome": "Outcome", "total_verified": "total verified",
        "removal_t": "Time to removal (notice sent to removal verified, removals verified this month)",
        "removal_cols": ["Platform", "Removals", "Median", "Shortest", "Longest"],
        "review_t": "Review (% of detections reviewed this month)", "review_cols": ["", "Count", "Share"],
        "fp": "False positives rejected",
        "works_t": "Most infringed works (% of cases verified this month; a case may use several works)",
        "works_cols": ["#", "Work", "Artist", "Cases", "Share"],
        "weekly_t": "Weekly (weeks start Monday; first and last may be partial)",
        "weekly_cols": ["Week of", "Verified", "Removed"],
        "letters_t": "Letters sent by jurisdiction (% of letters sent this month)",
        "letters_cols": ["Jurisdiction", "Letters", "Share"],
        "chart_weekly": "Chart 2: cases verified and removals verified per week",
        "chart_outcomes": "Chart 1: outcome of the cases verified this month, per platform",
        "week_axis": "week starting (MM-DD)",
        "annex_t": "Annex: the records behind each figure",
        "annex_note": "Each figure is the number of the records listed here (detection, case or letter ids); "
                      "look them up with `earwitness review show ID` (detections), `cases show ID`, `notices show ID`.",
        "annex_cols": ["Figure", "Platform", "Count", "Records"],
        "labels": {
            "found": "Detections found", "reviewed": "Detections reviewed",
            "rejected": "False positives rejected in review", "verified": "Infringements verified (cases opened)",
            "reuploads": "Re-uploads (cases linked to a removed one)", "notified": "Cases notified (notice sent)",
            "letters": "Letters sent", "removed": "removed", "resolved": "resolved", "pending": "pending",
            "disputed": "disputed (counter-notice)", "refused": "refused by the platform",
            "withdrawn": "withdrawn", "removed_in_month": "Removals verified this month",
            "pending_at_end": "Cases pending at the clock (all)", "overdue_at_end": "Cases overdue at the clock",
        },
    },
    "zh": {
        "title": "监测月报 {month}：外部监测",
        "period": "统计期间：{a} 至 {b}（{zone}）。",
        "clock": "全部数字统一以 {t} 为截止时点计算。",
        "median": "自发出通知至确认删除的时间中位数：{h}，依据本月确认的 {n} 次删除。",
        "hours": "{h:.1f} 小时（{d:.1f} 天）", "na": "无", "total": "合计",
        "figures": "各平台数据", "figure": "项目",
        "outcome_t": "本月确认侵权案件截至统计时点的处理结果（占该平台本月确认案件的百分比）",
        "outcome": "结果", "total_verified": "本月确认合计",
        "removal_t": "删除用时（自发出通知至确认删除，本月确认的删除）",
        "removal_cols": ["平台", "删除数", "中位数", "最短", "最长"],
        "review_t": "审核（占本月审核检测的百分比）", "review_cols": ["", "数量", "占比"],
        "fp": "审核排除的误报",
        "works_t": "被侵权最多的作品（占本月确认案件的百分比；一个案件可能涉及多部作品）",
        "works_cols": ["#", "作品", "表演者", "案件数", "占比"],
        "weekly_t": "按周统计（每周自周一起；首末周可能不足七天）",
        "weekly_cols": ["周起始日", "确认", "删除"],
        "letters_t": "按法域统计的已发函件（占本月已发函件的百分比）",
        "letters_cols": ["法域", "函件数", "占比"],
        "chart_weekly": "图二：每周确认侵权案件与确认删除数",
        "chart_outcomes": "图一：本月确认案件的处理结果（按平台）",
        "week_axis": "周起始日（月-日）",
        "annex_t": "附件：各项数字所依据的记录",
        "annex_note": "每项数字即下列记录（检测、案件或函件编号）的数量；可用 "
                      "`earwitness review show 编号`（检测）、`cases show 编号`、`notices show 编号` 查阅。",
        "annex_cols": ["项目", "平台", "数量", "记录编号"],
        "labels": {
            "found": "发现的检测", "reviewed": "已审核的检测", "rejected": "审核排除的误报",
            "verified": "确认侵权（立案）", "reuploads": "重复上传（关联已删除案件）",
            "notified": "已通知案件（已发函）", "letters": "已发函件", "removed": "已删除",
            "resolved": "已结案", "pending": "处理中", "disputed": "有争议（反通知）",
            "refused": "平台拒绝处理", "withdrawn": "已撤回", "removed_in_month": "本月确认删除",
            "pending_at_end": "统计时点处理中的案件（全部）", "overdue_at_end": "统计时点逾期案件",
        },
    },
}


def _hours(h: float | None, w: dict) -> str:
    return w["na"] if h is None else w["hours"].format(h=h, d=h / 24)


def tables(rep: Report, lang: str = "en") -> list[tuple[str, list[str], list[list[str]]]]:
    w = WORDS[lang]
    lab = w["labels"]
    plats = list(rep.platforms)
    figures = [[lab[k]] + [str(rep.platforms[p][k]) for p in plats] + [str(rep.totals[k])] for k in COUNTS]
    outcome = [[lab[o]] + [f"{rep.platforms[p][o]} ({pct(rep.platforms[p][o], rep.platforms[p]['verified'])})"
                           for p in plats]
               + [f"{rep.totals[o]} ({pct(rep.totals[o], rep.totals['verified'])})"] for o in OUTCOMES]
    outcome.append([w["total_verified"]] + [str(rep.platforms[p]["verified"]) for p in plats]
                   + [str(rep.totals["verified"])])
    removal = []
    for p in plats + [None]:
        hours = [r["hours"] for r in rep.removals if p is None or r["platform"] == p]
        removal.append([p or w["total"], str(len(hours)),
                        _hours(statistics.median(hours) if hours else None, w),
                        _hours(min(hours) if hours else None, w), _hours(max(hours) if hours else None, w)])
    rejected = [[w["fp"], str(rep.totals["rejected"]), pct(rep.totals["rejected"], rep.totals["reviewed"])]]
    works = [[str(i), x["title"] or x["work_id"], x["artist"] or "", str(x["cases"]),
              pct(x["cases"], rep.totals["verified"])] for i, x in enumerate(rep.top_works, start=1)]
    weekly = [[x["week_start"], str(x["verified"]), str(x["removed"])] for x in rep.weekly]
    return [
        (w["figures"], [w["figure"]] + plats + [w["total"]], figures),
        (w["outcome_t"], [w["outcome"]] + plats + [w["total"]], outcome),
        (w["removal_t"], w["removal_cols"], removal),
        (w["review_t"], w["review_cols"], rejected),
        (w["works_t"], w["works_cols"], works),
        (w["weekly_t"], w["weekly_cols"], weekly),
        (w["letters_t"], w["letters_cols"],
         [[j, str(n), pct(n, rep.totals["letters"])] for j, n in sorted(rep.letters_by_jurisdiction.items())]),
    ]


ANNEX_IDS_PER_ROW = 10     # a row must fit on a page: long lists go on in the rows below


def _annex_rows(label: str, where: str, ids: list[str]) -> list[list[str]]:
    return [[label, where, str(len(ids)) if i == 0 else "", " ".join(ids[i:i + ANNEX_IDS_PER_ROW])]
            for i in range(0, len(ids), ANNEX_IDS_PER_ROW)]


def annex(rep: Report, lang: str = "en") -> list[list[str]]:
    """Rows per figure and platform that counts anything: the figure, where, how many (on its first
    row), which records (at most :data:`ANNEX_IDS_PER_ROW` a row)."""
    lab = WORDS[lang]["labels"]
    rows = []
    for k in FIGURES:
        for p in rep.platforms:
            rows += _annex_rows(lab[k], p, rep.sources[p][k])
    for j, ids in sorted(rep.letters_by_jurisdiction_ids.items()):
        rows += _annex_rows(f"{WORDS[lang]['letters_cols'][1]} · {j}", "", sorted(ids))
    return rows


def _intro(rep: Report, lang: str) -> list[str]:
    w = WORDS[lang]
    local = rep.as_of.astimezone(ZoneInfo(rep.timezone))
    clock = (f"{rep.as_of.astimezone(timezone.utc).strftime('%Y-%m-%d %H:%M')} UTC / "
             f"{local.strftime('%Y-%m-%d %H:%M')} {rep.timezone}")
    return [w["period"].format(a=rep.start.date(), b=(rep.end - timedelta(days=1)).date(), zone=rep.timezone),
            w["clock"].format(t=clock),
            w["median"].format(h=_hours(rep.median_hours_to_removal, w), n=len(rep.removals))]


def markdown(rep: Report, lang: str = "en") -> str:
    w = WORDS[lang]
    out = [f"# {w['title'].format(month=rep.month)}", ""] + [line + "  " for line in _intro(rep, lang)]
    for title, cols, rows in tables(rep, lang) + [(w["annex_t"], w["annex_cols"], annex(rep, lang))]:
        out += ["", f"## {title}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


# --- charts (reportlab graphics) --------------------------------------------------------------------

_COLOURS = ("#4e79a7", "#59a14f", "#f28e2b", "#e15759", "#76b7b2", "#b07aa1")


def _bar_chart(series: list[list[int]], names: list[str], categories: list[str], axis: str, *,
               stacked: bool = False):
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors
    from notices.render_pdf import cjk_font
    font = cjk_font()
    d = Drawing(460, 220)
    bc = VerticalBarChart()
    bc.x, bc.y, bc.width, bc.height = 40, 40, 380, 130
    bc.data = series or [[0]]
    top = max([1] + ([sum(col) for col in zip(*series)] if stacked and series else [v for s in series for v in s]))
    bc.valueAxis.valueMin, bc.valueAxis.valueMax = 0, top + 1
    bc.valueAxis.valueStep = max(1, (top + 1) // 5)
    bc.valueAxis.labels.fontName = font
    bc.categoryAxis.categoryNames = categories or [""]
    bc.categoryAxis.labels.fontName = font
    if stacked:
        bc.categoryAxis.style = "stacked"
    for i in range(len(series)):
        bc.bars[i].fillColor = colors.HexColor(_COLOURS[i % len(_COLOURS)])
    d.add(bc)
    legend = Legend()
    legend.x, legend.y, legend.fontName, legend.fontSize = 40, 212, font, 7
    legend.alignment, legend.columnMaximum = "right", 1
    legend.colorNamePairs = [(colors.HexColor(_COLOURS[i % len(_COLOURS)]), n) for i, n in enumerate(names)]
    d.add(legend)
    d.add(String(40, 10, axis, fontName=font, fontSize=8))
    return d


def chart(rep: Report, lang: str = "en"):
    """Weekly bars (cases verified, removals verified)."""
    lab = WORDS[lang]["labels"]
    return _bar_chart([[w["verified"] for w in rep.weekly], [w["removed"] for w in rep.weekly]],
                      [lab["verified"], lab["removed_in_month"]], [w["week_start"][5:] for w in rep.weekly],
                      WORDS[lang]["week_axis"])


def outcome_chart(rep: Report, lang: str = "en"):
    """Stacked bars per platform: the outcome of the cases verified this month."""
    lab = WORDS[lang]["labels"]
    plats = list(rep.platforms)
    return _bar_chart([[rep.platforms[p][o] for p in plats] for o in OUTCOMES], [lab[o] for o in OUTCOMES],
                      plats, "", stacked=True)


def pdf(rep: Report, path: Path, lang: str = "en") -> Path:
    from reportlab.platypus import CondPageBreak
    from notices import render_pdf
    w = WORDS[lang]
    title = w["title"].format(month=rep.month)
    blocks: list[tuple] = [("title", title)]
    blocks += [("para", line) for line in _intro(rep, lang)]
    for i, (heading, cols, rows) in enumerate(tables(rep, lang)):
        if i == 2:
            blocks += [("flowable", CondPageBreak(250)), ("heading", w["chart_outcomes"]),
                       ("flowable", outcome_chart(rep, lang))]
        if i == 5:
            blocks += [("flowable", CondPageBreak(250)), ("heading", w["chart_weekly"]),
                       ("flowable", chart(rep, lang))]
        blocks += [("heading", heading), ("table", cols, rows)]
    blocks += [("heading", w["annex_t"]), ("para", w["annex_note"]),
               ("table", w["annex_cols"], annex(rep, lang))]
    return render_pdf.write(blocks, path, title=title, header=f"{title} · {rep.as_of.date().isoformat()}",
                            lang=lang)


def write(rep: Report, out_dir: Path, langs: tuple[str, ...] = LANGS) -> list[Path]:
    """Check the report, then write it in each language as Markdown and PDF; nothing is written if the
    check fails, and the files appear together (written aside, then moved into place)."""
    rep.check()
    unknown = [x for x in langs if x not in WORDS]
    if unknown:
        raise NoticesError(f"report languages: {', '.join(LANGS)}; not {', '.join(unknown)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".report-") as tmp:
        staged = []
        for lang in langs:
            md = Path(tmp) / f"report-{rep.month}-{lang}.md"
            md.write_text(markdown(rep, lang), encoding="utf-8")
            staged += [md, pdf(rep, Path(tmp) / f"report-{rep.month}-{lang}.pdf", lang)]
        return [p.replace(out_dir / p.name) for p in staged]
