"""Text from a manifest or a vendor made inert in GitHub Markdown (pull-request comments, issues, job summaries):
no HTML, emphasis, links, mentions or issue references, and one line whatever it holds. Shared by the plan and
drift renderers."""

from __future__ import annotations

import html
import re

from reconciler.render.terminal import visible

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~#!])")


def neutral(text: str) -> str:
    """A string from a manifest or a vendor, made inert for a GitHub comment: control characters and newlines
    shown as escapes (a value cannot start a line, end an HTML block or a list), ``&`` and Markdown's special
    characters escaped (no HTML, emphasis, links, images, tables, headings), ``@`` followed by a zero-width space
    (no mention), and ``://`` and ``www.`` broken (no autolink): :func:`unlinked`."""
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", visible(text)).replace("&", "&amp;")
    return unlinked(text)


_ISSUE_REFERENCE = re.compile(r"(?<!&)#(?=[0-9])")  # not an HTML entity's &#40;


def html_text(text: str) -> str:
    """A string from a manifest or a vendor inside an HTML element of the comment (``<summary>``): one line,
    HTML-escaped, and Markdown's link and emphasis characters as entities, should a renderer read Markdown there."""
    escaped = html.escape(visible(text))
    return escaped.translate({ord(c): f"&#{ord(c)};" for c in "[]()!*_`|~\\"})


def unlinked(text: str) -> str:
    """A zero-width space after ``@``, in ``://`` and in ``www.``: GitHub then links and mentions nothing (its
    autolinker and mention filter work on the rendered text, so an escape alone would not do)."""
    text = text.replace("@", "@\u200b").replace("://", ":\u200b//").replace("www.", "www\u200b.")
    return _ISSUE_REFERENCE.sub("#\u200b", text)  # no #123 or owner/repo#7 link


def code_span(text: str) -> str:
    """A string from a manifest or a vendor as an inline code span: one line, fenced by more backticks than it
    holds in a row."""
    text = visible(text)  # a code span is one line: a newline in it could end the list or the HTML block
    fence = "`" * (longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def longest_backtick_run(text: str) -> int:
    """The longest run of backticks in ``text``: a code span or fence around it needs one more."""
    return max((len(run) for run in re.findall(r"`+", text)), default=0)
