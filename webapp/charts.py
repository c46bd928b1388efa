"""Server-rendered SVG charts (no JavaScript, no plotting library)."""

from __future__ import annotations

from datetime import date

from markupsafe import Markup, escape


def stacked_bars(series: list[tuple[date, dict[str, int]]], *, keys: tuple[str, ...], colours: dict[str, str],
                 width: int = 760, height: int = 220) -> Markup:
    """An SVG of one stacked bar per day; each bar has a <title> with the day's numbers."""
    left, right, top, bottom = 36, 10, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([sum(v.get(k, 0) for k in keys) for _, v in series] + [1])
    step = _nice_step(peak)
    ymax = step * -(-peak // step)
    bw = plot_w / max(1, len(series))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="detections per day">']
    for v in range(0, ymax + 1, step):
        y = top + plot_h - v / ymax * plot_h
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">{v}</text>')
    for i, (day, counts) in enumerate(series):
        x = left + i * bw
        y = top + plot_h
        label = ", ".join(f"{k} {counts.get(k, 0)}" for k in keys)
        parts.append(f'<g class="bar" data-day="{day.isoformat()}"><title>{escape(day.isoformat())}: {escape(label)}</title>')
        for k in keys:
            n = counts.get(k, 0)
            if n:
                h = n / ymax * plot_h
                y -= h
                parts.append(f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(1.0, bw - 2):.1f}" height="{h:.1f}" '
                             f'fill="{colours[k]}" class="seg-{k}"/>')
        parts.append("</g>")
        if i % max(1, len(series) // 8) == 0:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{height - bottom + 14}" text-anchor="middle" '
                         f'font-size="10">{day.strftime("%m-%d")}</text>')
    lx = left
    for k in keys:
        parts.append(f'<rect x="{lx}" y="{height - 12}" width="10" height="10" fill="{colours[k]}"/>'
                     f'<text x="{lx + 14}" y="{height - 3}" font-size="11">{escape(k)}</text>')
        lx += 90
    parts.append("</svg>")
    return Markup("".join(parts))


def _nice_step(peak: int) -> int:
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000):
        if peak / step <= 5:
            return step
    return 10 ** len(str(peak))


def clip_timeline(clip_duration_s: float | None, start_s: float, span_s: float, *, width: int = 760,
                  height: int = 34) -> Markup:
    """An SVG bar of the whole clip with the stretch where the work plays marked, and second ticks."""
    total = max(float(clip_duration_s or 0.0), start_s + span_s, 0.1)
    left, right = 4, 4
    scale = (width - left - right) / total
    x0, w = left + start_s * scale, max(2.0, span_s * scale)
    label = f"the work plays from {start_s:.1f} s to {start_s + span_s:.1f} s of a {total:.1f} s clip"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline-bar" id="clip-timeline" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>',
             f'<rect x="{left}" y="4" width="{width - left - right}" height="14" fill="#e5e7eb"/>',
             f'<rect class="match" x="{x0:.1f}" y="4" width="{w:.1f}" height="14" fill="#c0392b"/>']
    step = _nice_step(int(total) or 1) if total > 5 else 1
    for t in range(0, int(total) + 1, step):
        x = left + t * scale
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="18" y2="22" stroke="#6b7280"/>'
                     f'<text x="{x:.1f}" y="32" font-size="9" text-anchor="middle">{t}s</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
