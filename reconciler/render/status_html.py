"""``couponctl status --html FILE``: the status report as one self-contained HTML page.

Nothing on the page is fetched: no script, no font, no stylesheet or image from elsewhere (a Content-Security-Policy
of ``default-src 'none'`` says so to the browser too); the charts are inline SVG (reconciler.render.status_svg).
Every name and label is masked (no address is shown, as in plans) and HTML-escaped.
"""

from __future__ import annotations

from html import escape

from reconciler.plan.status import COUNTS, CampaignStatus, Group
from reconciler.render.status import HEADER, masked, money
from reconciler.render.status_svg import COLOURS, funnel_svg, timeline_svg
from reconciler.render.terminal import visible

CSP = "default-src 'none'; style-src 'unsafe-inline'"
STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1f2933; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; } h3 { font-size: 15px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #cbd2d9; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
section.campaign { display: inline-block; vertical-align: top; margin: 0 24px 24px 0; }
svg text { font: 12px system-ui, sans-serif; fill: #1f2933; }
p.note { color: #52606d; }
"""


def _text(value: str) -> str:
    return escape(visible(masked(value)), quote=True)


def _row(name: str, group: Group, *, strong: bool = False) -> str:
    tally = group.tally
    cells = [*(str(tally.count(c)) for c in COUNTS), money(tally.issued_value), money(tally.spend)]
    first = f"<strong>{name}</strong>" if strong else name
    return "<tr><td>" + first + "</td>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"


def _table(title: str, groups: tuple[Group, ...], total: Group | None) -> str:
    header = "".join(f"<th>{escape(h.capitalize())}</th>" for h in (title, *HEADER))
    rows = [_row(_text(g.name), g) for g in groups]
    if total is not None:
        rows.append(_row("total", total, strong=True))
    body = "".join(rows)
    return f'<table class="{escape(title.lower())}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'


def render_status_html(status: CampaignStatus) -> str:
    """The whole page, ending with its newline."""
    when = status.checked_at.strftime("%Y-%m-%d %H:%M:%SZ")
    total = status.total.tally
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Campaign status {when}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Campaign status</h1><p>Read from the vendors at {when}; nothing was issued.</p>",
        _table("Manifest", status.manifests, status.total),
    ]
    if status.labels:
        parts.append(_table("Label", status.labels, None))
    parts.append("<h2>Funnel per campaign</h2>")
    for group in status.manifests:
        name = visible(masked(group.name))
        parts.append(f'<section class="campaign"><h3>{escape(name)}</h3>{funnel_svg(name, group.tally)}</section>')
    parts += ["<h2>Issued and redeemed over time</h2>", timeline_svg("all campaigns", total)]
    if total.undated_issued or total.undated_redeemed:
        parts.append(
            f'<p class="note">Not on the chart: {total.undated_issued} issued and {total.undated_redeemed} redeemed '
            "coupon(s) the vendor does not date.</p>"
        )
    legend = ", ".join(f'<span style="color:{colour}">{stage}</span>' for stage, colour in COLOURS.items())
    parts += [
        f'<p class="note">Stages: {legend}. Counts are declared targets, each in the furthest stage it reached; '
        "spend is the face value of the redeemed coupons.</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
