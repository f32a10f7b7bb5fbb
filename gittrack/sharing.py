"""Moved to ``gittrack.sync`` (use ``Client().remote``); this path works for one more release."""

from gittrack._moved import alias

alias(__name__, "gittrack.sync")
