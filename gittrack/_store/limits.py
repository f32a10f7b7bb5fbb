"""The numeric limits of the format (docs/format.md, docs/security.md), in a module that imports
nothing, so the lowest readers (metric TSVs, run indexes) and the rules module
(``gittrack._store.rules``) share one definition."""

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

# What a tree expands to. A git tree may name one blob many times (4,000 notes all pointing at one
# 1 MiB blob push as 600 KB), so readers count entries and add up logical sizes (from the objects'
# headers, without reading them) before they read anything, and refuse what is over these.
MAX_NOTE_BYTES = 1024 * 1024  # one metadata note
MAX_NOTES = 100_000  # notes on refs/notes/gittrack
MAX_NOTES_BYTES = 128 * 1024 * 1024  # all the notes of refs/notes/gittrack together
MAX_HISTORY_SEGMENTS = 10_000  # sealed segments of one metric history (40,960,000 points)
MAX_HISTORY_BYTES = 256 * 1024 * 1024  # one metric history: its segments and its tail
MAX_RUN_METRIC_FILES = 1_000_000  # files under a run's metrics/ folder
MAX_RUN_METRIC_BYTES = 2 * 1024 * 1024 * 1024  # all the histories of one run
MAX_POINTERS_TOTAL_BYTES = 64 * 1024 * 1024  # all the DVC files of one snapshot
MAX_INDEX_RUNS = 1_000_000  # lines in one run index (all its batches)
