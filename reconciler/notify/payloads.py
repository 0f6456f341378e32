"""A notice as each destination's request body: Slack's Block Kit message, a Teams workflow's Adaptive Card
message, or couponctl's own JSON (signed, as GitHub signs its webhooks). Pure: bytes in, bytes out."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from reconciler.config.redaction import scrub
from reconciler.notify.model import DestinationType, Notice

SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_HEADER = "X-Couponctl-Event"
SCHEMA_VERSION = 1


def body(kind: DestinationType, notice: Notice) -> bytes:
    """The request body for a destination of ``kind``: UTF-8 JSON, every registered secret scrubbed from its
    strings (before serializing: scrubbing the JSON text could cut an escape in two, or mask a number, and leave a
    body no receiver can parse)."""
    shaped = {DestinationType.SLACK: slack, DestinationType.TEAMS: teams, DestinationType.WEBHOOK: webhook}[kind]
    return json.dumps(_scrubbed(shaped(notice)), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _scrubbed(value: Any) -> Any:
    """``value`` (JSON data) with every string in it, keys too, scrubbed of registered secrets."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(str(k)): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


def signature(secret: bytes, raw_body: bytes) -> str:
    """``sha256=<hex of HMAC-SHA256(secret, raw body)>``: the X-Hub-Signature-256 header's value."""
    return "sha256=" + hmac.new(secret, raw_body, hashlib.sha256).hexdigest()


def webhook(notice: Notice) -> dict[str, Any]:
    """couponctl's own JSON: every field of the notice, named in camelCase."""
    return {
        "schemaVersion": SCHEMA_VERSION,
        "event": notice.event.value,
        "title": notice.title,
        "summary": notice.summary,
        "counts": dict(notice.counts),
        "exposure": dict(notice.exposure),
        "runId": notice.run_id,
        "commit": notice.commit,
        "ciUrl": notice.ci_url,
        "exitCode": notice.exit_code,
        "details": list(notice.details),
    }


def facts(notice: Notice) -> list[tuple[str, str]]:
    """The notice's figures as (label, text) pairs, in the order the chat messages show them."""
    shown = [
        ("Event", notice.event.value),
        ("Counts", ", ".join(f"{name} {n}" for name, n in notice.counts.items()) or "none"),
        ("Exposure", ", ".join(f"{amount} {currency}" for currency, amount in notice.exposure.items()) or "none"),
        ("Run", notice.run_id or "none (no run was recorded)"),
        ("Commit", notice.commit or "unknown"),
    ]
    if notice.exit_code is not None:
        shown.append(("Exit code", str(notice.exit_code)))
    return shown


def slack(notice: Notice) -> dict[str, Any]:
    """A Slack incoming webhook's message: ``text`` (the fallback of notifications) and Block Kit blocks."""
    fields = [_mrkdwn(f"*{label}*\n{_slack_escape(value)}") for label, value in facts(notice)]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": notice.title[:150]}},
        {"type": "section", "text": _mrkdwn(_slack_escape(notice.summary))},
        {"type": "section", "fields": fields[:10]},
    ]
    if notice.details:
        lines = "\n".join(f"• {_slack_escape(line)}" for line in notice.details)
        blocks.append({"type": "section", "text": _mrkdwn(lines[:3000])})
    if notice.ci_url:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{notice.ci_url}|CI run>"}]})
    return {"text": _slack_escape(f"{notice.title}: {notice.summary}"), "blocks": blocks}


def teams(notice: Notice) -> dict[str, Any]:
    """A Teams workflow's message ("When a Teams webhook request is received", then "Post card in a chat or
    channel"): a ``message`` whose attachment is an Adaptive Card."""
    card_body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": notice.title, "weight": "Bolder", "size": "Medium", "wrap": True},
        _plain(notice.summary),
        {"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in facts(notice)]},
        *(_plain(line, isSubtle=True) for line in notice.details),
    ]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": card_body,
    }
    if notice.ci_url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "CI run", "url": notice.ci_url}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def _plain(text: str, **style: Any) -> dict[str, Any]:
    """A text shown as written: Teams reads Markdown in a TextBlock (an override's reason or a vendor's message
    could make a link, ``[Approve](https://...)``), never in a RichTextBlock's TextRun."""
    return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text, **style}]}


def _mrkdwn(text: str) -> dict[str, Any]:
    """A Slack mrkdwn text, ``verbatim``: Slack neither turns a bare URL into a link nor parses a mention in it
    (``@channel`` written plainly in an override's reason)."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _slack_escape(text: str) -> str:
    """Slack's mrkdwn reserves &, < and >: escaped, a text cannot make a link or mention (<!channel>)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
