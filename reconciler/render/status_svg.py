"""The charts of the status page as inline SVG, drawn by couponctl (no plotting library, nothing fetched): a funnel
per campaign and the coupons issued and redeemed over time. Every text is HTML-escaped; the caller passes names
already masked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from html import escape

from reconciler.plan.status import Tally

FUNNEL_STAGES: tuple[str, ...] = ("declared", "issued", "claimed", "redeemed")
COLOURS: Mapping[str, str] = {
    "declared": "#9aa5b1",
    "issued": "#3e7cb1",
    "claimed": "#f0a202",
    "redeemed": "#2a9d5c",
}


def _attr(text: str) -> str:
    return escape(text, quote=True)


def funnel_svg(name: str, tally: Tally, *, width: int = 520) -> str:
    """Four bars, declared to redeemed, each as wide as its count against the declared targets, with its count
    and its share of the declared."""
    bar_h, gap, label_w = 26, 8, 90
    height = len(FUNNEL_STAGES) * (bar_h + gap) + gap
    top = max(tally.declared, 1)
    span = width - label_w - 110
    parts = [
        f'<svg class="funnel" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" data-campaign="{_attr(name)}">',
        f"<title>{escape(f'Funnel of {name}')}</title>",
    ]
    for index, stage in enumerate(FUNNEL_STAGES):
        count = tally.count(stage)
        y = gap + index * (bar_h + gap)
        bar_w = max(round(span * count / top), 1 if count else 0)
        x = label_w + (span - bar_w) / 2
        share = f"{100 * count / tally.declared:.0f}%" if tally.declared else "-"
        parts += [
            f'<text x="{label_w - 8}" y="{y + bar_h * 0.68:.1f}" text-anchor="end">{stage}</text>',
            f'<rect class="stage" data-stage="{stage}" data-count="{count}" x="{x:.1f}" y="{y}" width="{bar_w}" '
            f'height="{bar_h}" rx="3" fill="{COLOURS[stage]}"><title>{stage}: {count}</title></rect>',
            f'<text x="{label_w + span + 8}" y="{y + bar_h * 0.68:.1f}">{count} ({share})</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def _cumulative(by_day: Mapping[date, int], days: Sequence[date]) -> list[int]:
    running, values = 0, []
    for day in days:
        running += by_day.get(day, 0)
        values.append(running)
    return values


def timeline_svg(name: str, tally: Tally, *, width: int = 640, height: int = 240) -> str:
    """Coupons issued and redeemed so far, per UTC day (cumulative step lines, a dot per day with any), from the
    day before the first dated one to the last. Without any dated coupon: a note instead of axes. The lines have
    a corner per dated day only, so a vendor's odd date (0001-01-01 for "none") draws a long flat line, not a
    point per day of two thousand years."""
    dated = sorted({*tally.issued_by_day, *tally.redeemed_by_day})
    head = (
        f'<svg class="timeline" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" data-campaign="{_attr(name)}">'
        f"<title>{escape(f'Issued and redeemed over time: {name}')}</title>"
    )
    if not dated:
        return head + f'<text x="10" y="{height / 2:.0f}">No dated coupon yet.</text></svg>'
    # from the day before the first: the lines start at 0 (the first day itself when there is no day before it)
    first, last = (dated[0] - timedelta(days=1) if dated[0] > date.min else dated[0]), dated[-1]
    span = max((last - first).days, 1)
    left, right, top, bottom = 48, 16, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    series = {
        "issued": _cumulative(tally.issued_by_day, dated),
        "redeemed": _cumulative(tally.redeemed_by_day, dated),
    }
    peak = max(max(values) for values in series.values()) or 1

    def x_of(day: date) -> float:
        return left + plot_w * (day - first).days / span

    def y_of(value: int) -> float:
        return top + plot_h - plot_h * value / peak

    parts = [
        head,
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#555"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#555"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h + 4}" text-anchor="end">0</text>',
        f'<text x="{left}" y="{height - 12}">{first.isoformat()}</text>',
        f'<text x="{left + plot_w}" y="{height - 12}" text-anchor="end">{last.isoformat()}</text>',
    ]
    for label, values in series.items():
        points = [f"{x_of(first):.1f},{y_of(0):.1f}"]
        before = 0
        for day, value in zip(dated, values, strict=True):
            points += [f"{x_of(day):.1f},{y_of(before):.1f}", f"{x_of(day):.1f},{y_of(value):.1f}"]
            before = value
        parts.append(
            f'<polyline class="series" data-series="{label}" data-total="{values[-1]}" fill="none" '
            f'stroke="{COLOURS[label]}" stroke-width="2" points="{" ".join(points)}"/>'
        )
        by_day = tally.issued_by_day if label == "issued" else tally.redeemed_by_day
        for day, value in zip(dated, values, strict=True):
            if by_day.get(day):
                parts.append(
                    f'<circle class="point" data-series="{label}" cx="{x_of(day):.1f}" cy="{y_of(value):.1f}"'
                    f' r="3" fill="{COLOURS[label]}"><title>{day.isoformat()}: {by_day[day]} {label}, '
                    f"{value} so far</title></circle>"
                )
    legend_x = left + 10
    for offset, label in enumerate(series):
        parts += [
            f'<rect x="{legend_x + offset * 110}" y="{top}" width="12" height="12" fill="{COLOURS[label]}"/>',
            f'<text x="{legend_x + offset * 110 + 16}" y="{top + 10}">{label}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)
