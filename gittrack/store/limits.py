"""The numeric limits of the format (docs/format.md), in a module that imports nothing, so the
lowest readers (metric TSVs) and the rules module (``gittrack.store.rules``) share one definition."""

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # steps, counts, pids: what MLflow and SQLite store
MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant ISO 8601 spells
