"""Moved to ``gittrack.search.order`` (search lives in one package); this path works for one more release."""

from gittrack._moved import alias

alias(__name__, "gittrack.search.order")
