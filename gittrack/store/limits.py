"""The numeric limits of the format (docs/format.md, docs/security.md), in a module that imports
nothing, so the lowest readers (metric TSVs, run indexes) and the rules module
(``gittrack.store.rules``) share one definition."""

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # steps, counts, pids: what MLflow and SQLite store
MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last instant ISO 8601 spells
MAX_PROBLEMS = 20  # problem lines reported per index, batch or command
MAX_BATCH_BYTES = 64 * 1024 * 1024  # one batch blob of a run index (gittrack writes 1000 runs a batch)
MAX_BATCH_LINES = 10_000
MAX_BATCHES = 100_000  # batches in one run index
MAX_INDEX_BYTES = 1024 * 1024 * 1024  # all batches of one run index
MAX_FUTURE_SECONDS = 300  # a registry tag dated further ahead of this clock is ignored, or refused by the hook
MAX_POINTERS = 100_000  # .dvc files (and dvc.yaml files) in one snapshot
MAX_POINTER_BYTES = 1024 * 1024
