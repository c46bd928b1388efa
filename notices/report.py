"""The monthly monitoring report, computed from the case records alone.

Month bounds are in the team's ``local_timezone`` (Asia/Shanghai as shipped). The
outcome of the cases verified in the month is their state at the month's end,
replayed from their events, and is a partition: removed + pending + disputed +
withdrawn = verified, per platform and in total (:meth:`Report.check`). Every
percentage names its base. Written as Markdown and as PDF with a weekly chart
drawn with reportlab's graphics.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from earwitness.kernel import settings
from earwitness.kernel.store.models import Clip, Detection, Work, utcnow
from notices.exceptions import NoticesError
from earwitness.kernel.store.case_models import Case, CaseEvent, Notice

class ReportInconsistent(NoticesError):
    """The report's figures do not agree with each other or with the records: not published."""


OUTCOMES = ("removed", "pending", "disputed", "withdrawn")
_GROUP = {"confirmed": "pending", "notice_drafted": "pending", "notice_sent": "pending", "rejected": "pending",
          "removed": "removed", "resolved": "removed",
          "disputed": "disputed", "restored": "disputed", "escalated": "disputed"}
COUNTS = ("found", "rejected", "reviewed", "verified", "notified", "letters", "removed_in_month",
          "pending_at_end", "overdue_at_end")


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


@dataclass
class Report:
    month: str
    timezone: str
    start: datetime
    end: datetime
    platforms: dict[str, dict] = field(default_factory=dict)   # platform -> counts + outcomes
    totals: dict = field(default_factory=dict)
    top_works: list[dict] = field(default_factory=list)
    removal_hours: list[float] = field(default_factory=list)
    weekly: list[dict] = field(default_factory=list)
    letters_by_jurisdiction: dict[str, int] = field(default_factory=dict)
    generated_at: datetime = field(default_factory=utcnow)

    @property
    def median_hours_to_removal(self) -> float | None:
        return statistics.median(self.removal_hours) if self.removal_hours else None

    def check(self) -> None:
        """Parts add up to their wholes; raises :class:`ReportInconsistent` if not (never skipped)."""
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise ReportInconsistent(f"report {self.month}: {what}")
        for name, row in list(self.platforms.items()) + [("total", self.totals)]:
            need(sum(row[o] for o in OUTCOMES) == row["verified"], f"{name}: outcomes do not add up to verified")
            need(row["reviewed"] >= row["rejected"], f"{name}: more rejected than reviewed")
        for key in COUNTS + OUTCOMES:
            need(sum(r[key] for r in self.platforms.values()) == self.totals[key], f"total {key}")
        need(sum(w["verified"] for w in self.weekly) == self.totals["verified"], "weekly verified")
        need(sum(w["removed"] for w in self.weekly) == self.totals["removed_in_month"], "weekly removed")
        need(len(self.removal_hours) == self.totals["removed_in_month"], "removal times")


def pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "n/a"


def _state_at(events: list[CaseEvent], end: datetime) -> tuple[str | None, str | None]:
    """(state, how it got closed) from the events before ``end``."""
    state, closed_from = None, None
    for ev in events:
        if ev.at >= end:
            break
        if ev.to_state == "closed" and ev.from_state != "closed":
            closed_from = ("withdrawn" if ev.event in ("withdraw", "retract_notice")
                           else _GROUP.get(ev.from_state, "removed"))
        state = ev.to_state
    return state, closed_from


def _weeks(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    out, cur = [], start
    while cur < end:
        nxt = datetime.combine(cur.date() + timedelta(days=7 - cur.weekday()), datetime.min.time(),
                               tzinfo=cur.tzinfo)
        out.append((cur, min(nxt, end)))
        cur = nxt
    return out


def monthly(session: Session, month: str) -> Report:
    """Compute the month's figures from the case, event, notice and detection records."""
    start, end, zone = month_bounds(month)
    rep = Report(month=month, timezone=str(zone), start=start, end=end)
    rows: dict[str, dict] = defaultdict(lambda: dict.fromkeys(COUNTS + OUTCOMES, 0))

    def inside(t: datetime | None) -> bool:
        return t is not None and start <= t < end

    for det, platform in session.execute(select(Detection, Clip.platform).join(Detection.clip)):
        if inside(det.created_at):
            rows[platform]["found"] += 1
        if inside(det.reviewed_at) and det.review_state in ("confirmed", "rejected"):
            rows[platform]["reviewed"] += 1
            rows[platform]["rejected"] += det.review_state == "rejected"
    letter_cases: dict[str, int] = defaultdict(int)
    for notice in session.scalars(select(Notice).where(Notice.sent_at.is_not(None))):
        if inside(notice.sent_at):
            rows[notice.platform]["letters"] += 1
            letter_cases[notice.platform] += len(notice.cases)
            juris = notice.jurisdiction or "?"
            rep.letters_by_jurisdiction[juris] = rep.letters_by_jurisdiction.get(juris, 0) + 1
    weeks = _weeks(start, end)
    weekly = [{"week_start": a.date().isoformat(), "verified": 0, "removed": 0} for a, _ in weeks]

    def week_of(t: datetime) -> int:
        return next(i for i, (a, b) in enumerate(weeks) if a <= t < b)

    works_count: Counter = Counter()
    for case in session.scalars(select(Case)):       # sent in the month counts even if opened later
        row = rows[case.platform]
        events = list(case.events)
        state, closed_from = _state_at(events, end)
        if state in ("confirmed", "notice_drafted", "notice_sent"):
            row["pending_at_end"] += 1
            if state == "notice_sent" and case.sla_due_at is not None and case.sla_due_at < end:
                row["overdue_at_end"] += 1
        sent_at = None
        for ev in events:
            if ev.event == "send_notice":
                sent_at = datetime.fromisoformat(ev.details["sent_at"])
                if inside(sent_at):          # one clock with the letters: when it was sent
                    row["notified"] += 1
            if ev.event == "verify_removed" and inside(ev.at):
                row["removed_in_month"] += 1
                weekly[week_of(ev.at)]["removed"] += 1
                rep.removal_hours.append(round((ev.at - (sent_at or ev.at)).total_seconds() / 3600, 2))
        if inside(case.opened_at):
            row["verified"] += 1
            weekly[week_of(case.opened_at)]["verified"] += 1
            row[closed_from if state == "closed" else _GROUP[state]] += 1
            for wid in case.work_ids():
                works_count[wid] += 1
    rep.platforms = {p: dict(r) for p, r in sorted(rows.items())}
    rep.totals = {k: sum(r[k] for r in rep.platforms.values()) for k in COUNTS + OUTCOMES}
    rep.weekly = weekly
    for wid, n in sorted(works_count.items(), key=lambda kv: (-kv[1], kv[0]))[:10]:
        w = session.get(Work, wid)
        rep.top_works.append({"work_id": wid, "title": w.title if w else wid,
                              "artist": w.artist if w else "", "cases": n})
    rep.check()
    if sum(rep.letters_by_jurisdiction.values()) != rep.totals["letters"]:
        raise ReportInconsistent(f"letters by jurisdiction do not add up to the {rep.totals['letters']} sent")
    for platform, row in rep.platforms.items():
        if row["notified"] != letter_cases.get(platform, 0):
            raise ReportInconsistent(f"{platform}: {row['notified']} case(s) notified but the letters sent "
                                     f"in {month} cover {letter_cases.get(platform, 0)}")
    return rep


# --- writers ---------------------------------------------------------------------------------------

LABELS = [
    ("found", "Detections found"), ("reviewed", "Detections reviewed"),
    ("rejected", "False positives rejected in review"), ("verified", "Infringements verified (cases opened)"),
    ("notified", "Cases notified (notice sent)"), ("letters", "Letters sent"),
    ("removed_in_month", "Removals verified this month"), ("pending_at_end", "Cases pending at month end (all)"),
    ("overdue_at_end", "Cases overdue at month end"),
]
OUTCOME_LABELS = {"removed": "removed or resolved", "pending": "still pending", "disputed": "disputed",
                  "withdrawn": "withdrawn"}


def _fmt_hours(h: float | None) -> str:
    return "n/a" if h is None else f"{h:.1f} h ({h / 24:.1f} days)"


def tables(rep: Report) -> list[tuple[str, list[str], list[list[str]]]]:
    plats = list(rep.platforms)
    figures = [[label] + [str(rep.platforms[p][k]) for p in plats] + [str(rep.totals[k])]
               for k, label in LABELS]
    outcome = [[OUTCOME_LABELS[o]] + [f"{rep.platforms[p][o]} ({pct(rep.platforms[p][o], rep.platforms[p]['verified'])})"
                                      for p in plats]
               + [f"{rep.totals[o]} ({pct(rep.totals[o], rep.totals['verified'])})"] for o in OUTCOMES]
    outcome.append(["total verified"] + [str(rep.platforms[p]["verified"]) for p in plats]
                   + [str(rep.totals["verified"])])
    rejected = [["False positives rejected", str(rep.totals["rejected"]),
                 pct(rep.totals["rejected"], rep.totals["reviewed"])]]
    works = [[str(i), w["title"] or w["work_id"], w["artist"] or "", str(w["cases"]),
              pct(w["cases"], rep.totals["verified"])] for i, w in enumerate(rep.top_works, start=1)]
    weekly = [[w["week_start"], str(w["verified"]), str(w["removed"])] for w in rep.weekly]
    return [
        ("Figures by platform", ["Figure"] + plats + ["Total"], figures),
        ("Outcome at month end of the cases verified this month "
         "(% of the cases verified this month on that platform)", ["Outcome"] + plats + ["Total"], outcome),
        ("Review (% of detections reviewed this month)", ["", "Count", "Share"], rejected),
        ("Most infringed works (% of cases verified this month; a case may use several works)",
         ["#", "Work", "Artist", "Cases", "Share"], works),
        ("Weekly (weeks start Monday; first and last may be partial)", ["Week of", "Verified", "Removed"], weekly),
        ("Letters sent by jurisdiction (% of letters sent this month)", ["Jurisdiction", "Letters", "Share"],
         [[j, str(n), pct(n, rep.totals["letters"])] for j, n in sorted(rep.letters_by_jurisdiction.items())]),
    ]


def _intro(rep: Report) -> list[str]:
    return [f"Period: {rep.start.date()} to {(rep.end - timedelta(days=1)).date()} ({rep.timezone}).",
            f"Median time from notice sent to verified removal: {_fmt_hours(rep.median_hours_to_removal)} "
            f"over {len(rep.removal_hours)} removal(s) verified this month.",
            f"Generated {rep.generated_at.strftime('%Y-%m-%d %H:%M UTC')} from the case records."]


def markdown(rep: Report) -> str:
    out = [f"# Monitoring report {rep.month}", ""] + [line + "  " for line in _intro(rep)]
    for title, cols, rows in tables(rep):
        out += ["", f"## {title}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def chart(rep: Report):
    """Weekly bars (verified, removed) as a reportlab Drawing."""
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors
    from notices.render_pdf import cjk_font
    font = cjk_font()
    d = Drawing(460, 210)
    bc = VerticalBarChart()
    bc.x, bc.y, bc.width, bc.height = 40, 40, 380, 130
    bc.data = [[w["verified"] for w in rep.weekly], [w["removed"] for w in rep.weekly]]
    top = max([1] + bc.data[0] + bc.data[1])
    bc.valueAxis.valueMin, bc.valueAxis.valueMax = 0, top + 1
    bc.valueAxis.valueStep = max(1, (top + 1) // 5)
    bc.valueAxis.labels.fontName = font
    bc.categoryAxis.categoryNames = [w["week_start"][5:] for w in rep.weekly]
    bc.categoryAxis.labels.fontName = font
    bc.bars[0].fillColor = colors.HexColor("#4e79a7")
    bc.bars[1].fillColor = colors.HexColor("#59a14f")
    d.add(bc)
    legend = Legend()
    legend.x, legend.y, legend.fontName = 60, 200, font
    legend.alignment, legend.columnMaximum = "right", 1
    legend.colorNamePairs = [(colors.HexColor("#4e79a7"), "verified"), (colors.HexColor("#59a14f"), "removed")]
    d.add(legend)
    d.add(String(40, 10, "week starting (MM-DD)", fontName=font, fontSize=8))
    return d


def pdf(rep: Report, path: Path) -> Path:
    from notices import render_pdf
    blocks: list[tuple] = [("title", f"Monitoring report {rep.month} 监测月报")]
    blocks += [("para", line) for line in _intro(rep)]
    for i, (title, cols, rows) in enumerate(tables(rep)):
        if i == 4:
            from reportlab.platypus import CondPageBreak
            blocks.append(("flowable", CondPageBreak(240)))   # keep the chart with its heading
            blocks.append(("heading", "Weekly chart"))
            blocks.append(("flowable", chart(rep)))
        blocks += [("heading", title), ("table", cols, rows)]
    return render_pdf.write(blocks, path, title=f"Monitoring report {rep.month}")


def write(rep: Report, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / f"report-{rep.month}.md"
    md.write_text(markdown(rep), encoding="utf-8")
    return [md, pdf(rep, out_dir / f"report-{rep.month}.pdf")]
