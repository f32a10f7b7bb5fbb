"""Deprecated package: the filter grammar, ordering and DataFrames moved to ``gittrack.search``."""
