"""The status formats: the same numbers everywhere, names escaped in Markdown and HTML, addresses masked, CSV cells
a spreadsheet cannot run."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from decimal import Decimal

from reconciler.plan.status import Tally
from reconciler.render.csv_cells import safe_cell
from reconciler.render.status import (
    masked,
    render_status_csv,
    render_status_markdown,
    render_status_text,
    status_to_json,
)
from reconciler.render.status_html import render_status_html
from reconciler.render.status_svg import timeline_svg
from tests.support.status_sample import HOSTILE, sample_status


def test_json_carries_every_count_money_as_exact_strings_and_days() -> None:
    status = sample_status()
    report = json.loads(status_to_json(status))
    spring = next(m for m in report["manifests"] if m["name"] == "spring27")
    tally = next(g.tally for g in status.manifests if g.name == "spring27")
    assert [spring[k] for k in ("declared", "issued", "claimed", "redeemed", "expired", "void")] == [
        40,
        36,
        tally.claimed,
        21,
        0,
        0,
    ]
    assert spring["issuedValue"] == {"USD": "3600"} and spring["spend"] == {"USD": "2100"}
    assert sum(spring["issuedByDay"].values()) == 36 and sum(spring["redeemedByDay"].values()) == 21
    growth = next(label for label in report["labels"] if label["name"] == "team=growth")
    assert growth["manifests"] == ["spring27", "winback27"] and growth["declared"] == 65
    assert report["total"]["declared"] == 71


def test_markdown_escapes_names_and_labels_and_masks_addresses() -> None:
    document = render_status_markdown(sample_status())
    assert HOSTILE not in document and "<script>" not in document
    assert "spring\\<script\\>" in document
    assert "ops@example.com" not in document and "owner=o\\*\\*\\*@\u200bexample.com" in document


def test_csv_has_one_row_per_manifest_and_label_and_no_formula() -> None:
    rows = list(csv.DictReader(io.StringIO(render_status_csv(sample_status()))))
    assert [(r["group"], r["name"]) for r in rows] == [
        ("manifest", "spring27"),
        ("manifest", HOSTILE),
        ("manifest", "winback27"),
        ("label", "owner=o***@example.com"),
        ("label", "team=growth"),
    ]
    assert Decimal(rows[0]["spend_USD"]) == 2100 and Decimal(rows[0]["issued_value_USD"]) == 3600
    for text in ("=HYPERLINK(1)", "+1", "-1", "@SUM(A1)", "\tx"):
        assert safe_cell(text) == "'" + text
    assert safe_cell("spring27") == "spring27"


def test_text_and_html_show_the_same_totals() -> None:
    status = sample_status()
    text = render_status_text(status)
    total_line = next(line for line in text.splitlines() if line.startswith("(total)"))
    assert total_line.split()[1:7] == ["71", "59", str(status.total.tally.claimed), "28", "0", "0"]
    html = render_status_html(status)
    assert "<td><strong>total</strong></td><td>71</td><td>59</td>" in html
    assert HOSTILE not in html


def test_an_address_with_an_equals_sign_in_a_label_value_is_masked_whole() -> None:
    """``=`` may sit in an address's local part: a label ``owner: first=last@example.com`` shows no part of it."""
    assert masked("owner=first=last@example.com") == "owner=f***@example.com"
    assert masked("owner=ops@example.com") == "owner=o***@example.com"
    assert masked("a@example.com=b@example.com") == "a***@example.com=b***@example.com"


def test_a_timeline_from_the_first_day_of_the_calendar_to_the_last_is_drawn_small() -> None:
    """Dates a vendor sends for "none" (0001-01-01, 9999-12-31) neither crash the page nor draw a point per day."""
    tally = Tally(
        issued=2,
        issued_by_day={date(1, 1, 1): 1, date(2027, 3, 1): 1},
        redeemed_by_day={date(9999, 12, 31): 1},
    )
    svg = timeline_svg("odd", tally)
    assert "0001-01-01" in svg and "9999-12-31" in svg and len(svg) < 10_000
    assert re.findall(r'data-series="(\w+)" data-total="(\d+)"', svg) == [("issued", "2"), ("redeemed", "1")]
