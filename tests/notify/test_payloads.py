"""Each destination's body: couponctl's JSON signed as GitHub signs webhooks, Slack's Block Kit message, and a Teams
workflow's Adaptive Card message."""

from __future__ import annotations

import hashlib
import hmac
import json

from reconciler.config import redaction
from reconciler.notify.model import DestinationType, EventKind, Notice
from reconciler.notify.payloads import body, signature

NOTICE = Notice(
    EventKind.APPLY_PARTIAL,
    "couponctl apply partly failed",
    "exit 4: 2 CONFIRMED, 1 FAILED",
    counts={"CONFIRMED": 2, "FAILED": 1},
    exposure={"USD": "300"},
    run_id="run1",
    commit="abc123",
    ci_url="https://github.com/acme/coupons/actions/runs/42",
    exit_code=4,
    details=("FAILED msads-local/1/spring email:c***@acme.example (id 3fa2): <!channel> & more",),
)


def verify(secret: bytes, raw: bytes, header: str) -> bool:
    """What a receiver does (docs/operations.md): HMAC-SHA256 of the raw body, compared in constant time."""
    expected = "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def test_the_webhook_body_carries_every_field_and_its_signature_verifies() -> None:
    raw = body(DestinationType.WEBHOOK, NOTICE)
    sent = json.loads(raw)
    assert sent["event"] == "apply.partial" and sent["runId"] == "run1" and sent["commit"] == "abc123"
    assert sent["counts"] == {"CONFIRMED": 2, "FAILED": 1} and sent["exposure"] == {"USD": "300"}
    assert sent["ciUrl"] == NOTICE.ci_url and sent["exitCode"] == 4 and sent["details"] == list(NOTICE.details)
    header = signature(b"hook-secret", raw)
    assert verify(b"hook-secret", raw, header)
    assert not verify(b"other-secret", raw, header)
    assert not verify(b"hook-secret", raw.replace(b"run1", b"run2"), header)


def test_the_slack_body_is_a_block_kit_message_that_cannot_mention() -> None:
    sent = json.loads(body(DestinationType.SLACK, NOTICE))
    assert NOTICE.title in sent["text"]
    kinds = [b["type"] for b in sent["blocks"]]
    assert kinds[0] == "header" and "section" in kinds and kinds[-1] == "context"
    assert NOTICE.ci_url is not None and NOTICE.ci_url in sent["blocks"][-1]["elements"][0]["text"]
    text = json.dumps(sent)
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; more" in text
    fields = " ".join(f["text"] for b in sent["blocks"] if b["type"] == "section" for f in b.get("fields", ()))
    assert "run1" in fields and "abc123" in fields and "300 USD" in fields


def test_the_teams_body_is_an_adaptive_card_message() -> None:
    sent = json.loads(body(DestinationType.TEAMS, NOTICE))
    assert sent["type"] == "message"
    (attachment,) = sent["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] and card["body"][0]["text"] == NOTICE.title
    facts = {f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]}
    assert facts["Run"] == "run1" and facts["Commit"] == "abc123" and facts["Exposure"] == "300 USD"
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "CI run", "url": NOTICE.ci_url}]


def test_a_registered_secret_never_reaches_a_body() -> None:
    secret = "xoxb-0123456789-secret"
    redaction.register(secret)
    leaking = Notice(EventKind.APPLY_FAILED, "failed", f"token {secret} refused")
    for kind in DestinationType:
        assert secret.encode() not in body(kind, leaking)


def test_a_teams_card_shows_pull_request_and_vendor_texts_as_written_never_as_markdown() -> None:
    """An override's reason comes from a pull request, an item's message from a vendor: in a TextBlock, Teams
    would render ``[Approve](https://...)`` as a link. Every such text sits in a TextRun, which reads no Markdown."""
    link = "[Approve the refund here](https://evil.example/login)"
    notice = Notice(EventKind.OVERRIDE_USED, "couponctl apply used an override", f"said {link}", details=(link,))
    card = json.loads(body(DestinationType.TEAMS, notice))["attachments"][0]["content"]
    markdown_texts = [b["text"] for b in card["body"] if b["type"] == "TextBlock"]
    assert all(link not in text for text in markdown_texts)
    runs = [i["text"] for b in card["body"] if b["type"] == "RichTextBlock" for i in b["inlines"]]
    assert runs.count(link) == 1 and f"said {link}" in runs
    assert all(i["type"] == "TextRun" for b in card["body"] if b["type"] == "RichTextBlock" for i in b["inlines"])


def test_the_slack_fallback_text_cannot_mention_either() -> None:
    """Slack shows ``text`` in notifications and parses it as mrkdwn: it is escaped like the blocks."""
    notice = Notice(EventKind.APPLY_FAILED, "couponctl apply failed", "exit 1: <!channel> <https://evil.example|x>")
    sent = json.loads(body(DestinationType.SLACK, notice))
    assert "<" not in sent["text"] and "&lt;!channel&gt;" in sent["text"]


def test_every_slack_text_but_the_ci_link_is_verbatim() -> None:
    """Without ``verbatim``, Slack links a bare URL and parses some plain mentions in a mrkdwn text: a reason
    ``@channel see https://evil.example`` would ping the channel with a link. Every text built from the notice is
    verbatim; only the CI link, couponctl's own, is not."""
    notice = Notice(EventKind.OVERRIDE_USED, "used", "@channel https://evil.example", details=("@here x",))
    blocks = json.loads(body(DestinationType.SLACK, notice))["blocks"]
    texts = [b["text"] for b in blocks if b["type"] == "section" and "text" in b]
    texts += [f for b in blocks if b["type"] == "section" for f in b.get("fields", ())]
    assert texts and all(t["type"] == "mrkdwn" and t["verbatim"] is True for t in texts)


def test_a_scrubbed_secret_never_leaves_a_body_a_receiver_cannot_parse() -> None:
    """A secret ending in a backslash is ``\\\\`` in JSON text, and a numeric one may equal a count: scrubbing the
    serialized text cut the escape in two or put ``***`` where a number was. Each body stays JSON, secret-free."""
    slashed, numeric = "pa55-w0rd\\", "4242424242"
    redaction.register(slashed)
    redaction.register(numeric)
    notice = Notice(
        EventKind.APPLY_FAILED, "failed", f"refused {slashed} here", counts={"CONFIRMED": int(numeric)}, exit_code=1
    )
    for kind in DestinationType:
        raw = body(kind, notice)
        sent = json.dumps(json.loads(raw))
        assert slashed not in sent and "pa55-w0rd" not in sent and "refused *** here" in sent
