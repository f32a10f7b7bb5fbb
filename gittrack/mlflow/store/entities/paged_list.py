"""``PagedList``: a list of results with ``token`` for the next page (None on the last)."""

from __future__ import annotations

from typing import Any


class PagedList(list):
    """One page of results; pass ``token`` as ``page_token`` to get the next one."""

    def __init__(self, items: Any, token: str | None) -> None:
        super().__init__(items)
        self.token = token

    def to_list(self) -> list:
        """The items as a plain list."""
        return list(self)
