"""Markdown (promotion reports) to HTML with raw HTML disabled: text from a run stays text."""

from __future__ import annotations

import functools


@functools.cache
def _renderer():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def to_html(text: str) -> str:
    """The HTML of a Markdown document; any HTML in it is shown escaped, as text."""
    return _renderer().render(text)
