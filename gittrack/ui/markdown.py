"""Markdown (promotion reports) to HTML with raw HTML disabled: text from a run stays text."""

from __future__ import annotations

import functools


@functools.cache
def _renderer():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


# the reports mark rules passed and failed with emoji, which render as empty boxes on machines
# without an emoji font: the HTML shows an inline SVG tick or cross and a word instead
_MARKS = {
    "\u2705": '<span class="mark ok"><svg viewBox="0 0 12 12" width="12" height="12" aria-hidden="true">'
    '<path d="M2 6.5 5 9.5 10 3" fill="none" stroke="currentColor" stroke-width="2"/></svg> pass</span>',
    "\u274c": '<span class="mark bad"><svg viewBox="0 0 12 12" width="12" height="12" aria-hidden="true">'
    '<path d="M3 3 9 9M9 3 3 9" fill="none" stroke="currentColor" stroke-width="2"/></svg> fail</span>',
}


def to_html(text: str) -> str:
    """The HTML of a Markdown document; any HTML in it is shown escaped, as text (the markup of
    the pass and fail marks is added after the escaping, in place of their emoji)."""
    html = _renderer().render(text)
    for emoji, markup in _MARKS.items():
        html = html.replace(emoji, markup)
    return html
