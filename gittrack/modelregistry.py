"""Moved to ``gittrack.registry.service`` (use ``Client().registry``); this path works for one more release."""

from gittrack._moved import alias

alias(__name__, "gittrack.registry.service")
