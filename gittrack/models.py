"""Moved to ``gittrack.flavors`` (model flavors; "models" in the CLI is the registry); this path works for one
more release."""

from gittrack._moved import alias

alias(__name__, "gittrack.flavors")
