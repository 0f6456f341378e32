"""The campaign status report (reconciler.plan.status) as text, JSON, Markdown and CSV.

The report holds counts, money, manifest names and labels, never a target: no email can appear, and an
address-like string inside a name or a label is masked (``o***@example.com``) in every format all the same.
Markdown escapes names and labels as the plan and drift renderers do (:func:`reconciler.render.markdown_text.neutral`);
CSV cells that a spreadsheet would read as a formula are prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from reconciler.plan.masking import EMAIL, mask_email
from reconciler.plan.status import COUNTS, CampaignStatus, Group, GroupKind, Tally
from reconciler.render.csv_cells import safe_cell
from reconciler.render.journal import table
from reconciler.render.markdown_text import neutral
from reconciler.render.terminal import visible

HEADER = ("DECLARED", "ISSUED", "CLAIMED", "REDEEMED", "EXPIRED", "VOID", "ISSUED VALUE", "SPEND")


def masked(text: str) -> str:
    """A name or a label (``key=value``, each side masked apart: split at the first ``=``, since an address's
    local part may hold one) with any address in it masked."""
    key, equals, value = text.partition("=")
    return _mask_addresses(key) + equals + _mask_addresses(value)


def _mask_addresses(text: str) -> str:
    return EMAIL.sub(lambda m: mask_email(m.group()), text)


def money(values: Mapping[str, Decimal]) -> str:
    """``USD 500, EUR 20`` (currencies in order); ``-`` when there is none."""
    return ", ".join(f"{currency} {_amount(amount)}" for currency, amount in values.items()) or "-"


def _amount(amount: Decimal) -> str:
    return format(amount.normalize(), "f") if amount == amount.to_integral_value() else format(amount, "f")


def _cells(tally: Tally) -> list[str]:
    return [*(str(tally.count(name)) for name in COUNTS), money(tally.issued_value), money(tally.spend)]


# --- text -----------------------------------------------------------------------------------------------


def render_status_text(status: CampaignStatus) -> str:
    """Tables per manifest and per label, then the total, and what was not priced or dated."""
    when = status.checked_at.strftime("%Y-%m-%d %H:%M:%SZ")
    lines = [f"Campaign status at {when} (read from the vendors; nothing issued)", ""]
    right = tuple(range(1, 7))
    rows = [[visible(masked(g.name)), *_cells(g.tally)] for g in status.manifests]
    rows.append(["(total)", *_cells(status.total.tally)])
    lines += table(("MANIFEST", *HEADER), rows, right=right)
    if status.labels:
        lines.append("")
        label_rows = [[visible(masked(g.name)), *_cells(g.tally)] for g in status.labels]
        lines += table(("LABEL", *HEADER), label_rows, right=right)
    total = status.total.tally
    notes = []
    if total.unpriced:
        notes.append(f"{total.unpriced} coupon(s) without a known amount are not in the values.")
    if total.undated_issued or total.undated_redeemed:
        notes.append(
            f"Undated: {total.undated_issued} issued and {total.undated_redeemed} redeemed coupon(s) the vendor does "
            "not date."
        )
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


# --- JSON -----------------------------------------------------------------------------------------------


def _tally_to_dict(tally: Tally) -> dict[str, Any]:
    return {
        **{name: tally.count(name) for name in COUNTS},
        "issuedValue": {c: str(a) for c, a in tally.issued_value.items()},
        "spend": {c: str(a) for c, a in tally.spend.items()},
        "unpriced": tally.unpriced,
        "issuedByDay": {d.isoformat(): n for d, n in tally.issued_by_day.items()},
        "redeemedByDay": {d.isoformat(): n for d, n in tally.redeemed_by_day.items()},
        "undatedIssued": tally.undated_issued,
        "undatedRedeemed": tally.undated_redeemed,
    }


def _group_to_dict(group: Group) -> dict[str, Any]:
    body: dict[str, Any] = {"name": masked(group.name)}
    if group.kind is GroupKind.LABEL:
        body["manifests"] = [masked(m) for m in group.manifests]
    return {**body, **_tally_to_dict(group.tally)}


def status_to_dict(status: CampaignStatus) -> dict[str, Any]:
    return {
        "checkedAt": status.checked_at.isoformat(),
        "manifests": [_group_to_dict(g) for g in status.manifests],
        "labels": [_group_to_dict(g) for g in status.labels],
        "total": _tally_to_dict(status.total.tally),
    }


def status_to_json(status: CampaignStatus) -> str:
    """Indented JSON, without a trailing newline; amounts as strings (exact decimals)."""
    return json.dumps(status_to_dict(status), indent=2, ensure_ascii=False)


# --- Markdown -------------------------------------------------------------------------------------------


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def render_status_markdown(status: CampaignStatus) -> str:
    """A Markdown document for a scheduled issue or a job summary, ending with its newline."""
    when = status.checked_at.strftime("%Y-%m-%d %H:%M:%SZ")
    header = ["Manifest", *(h.capitalize() for h in HEADER)]
    align = ["---", *(["---:"] * 6), "---", "---"]
    lines = [f"### Campaign status ({when})", "", _md_row(header), _md_row(align)]
    lines += [_md_row([neutral(masked(g.name)), *map(neutral, _cells(g.tally))]) for g in status.manifests]
    lines.append(_md_row(["**total**", *map(neutral, _cells(status.total.tally))]))
    if status.labels:
        lines += ["", _md_row(["Label", *header[1:]]), _md_row(align)]
        lines += [_md_row([neutral(masked(g.name)), *map(neutral, _cells(g.tally))]) for g in status.labels]
    return "\n".join(lines) + "\n"


# --- CSV ------------------------------------------------------------------------------------------------


def render_status_csv(status: CampaignStatus) -> str:
    """One row per manifest and per label (``group`` says which), with a header; money in one column per
    currency and measure (``issued_value_USD``, ``spend_USD``), empty when none."""
    groups = (*status.manifests, *status.labels)
    currencies = sorted({c for g in groups for c in (*g.tally.issued_value, *g.tally.spend)})
    columns = [
        "group",
        "name",
        *COUNTS,
        *(f"issued_value_{c}" for c in currencies),
        *(f"spend_{c}" for c in currencies),
        "unpriced",
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for group in groups:
        tally = group.tally
        row = [
            group.kind.value,
            masked(group.name),
            *(str(tally.count(name)) for name in COUNTS),
            *(_csv_amount(tally.issued_value.get(c)) for c in currencies),
            *(_csv_amount(tally.spend.get(c)) for c in currencies),
            str(tally.unpriced),
        ]
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()


def _csv_amount(amount: Decimal | None) -> str:
    return "" if amount is None else _amount(amount)
