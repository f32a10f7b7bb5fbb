"""The one error hierarchy of gittrack: callers catch ``GittrackError`` or a subclass they can act on."""

from __future__ import annotations


class GittrackError(Exception):
    """Base of every error gittrack raises on purpose; its message is one line saying what to do."""


class UsageError(GittrackError):
    """The caller asked for something malformed (bad name, bad value); the CLI exits with 2."""


class InvalidNameError(UsageError):
    """An experiment, key, tag or run name that gittrack cannot store."""


class InvalidValueError(UsageError):
    """A param, metric or tag value that gittrack cannot store."""


class NotFoundError(GittrackError):
    """A run, experiment or object that does not exist."""


class AmbiguousRunError(GittrackError):
    """A run prefix or name that matches more than one run."""


class NotARepositoryError(GittrackError):
    """The working directory is not inside a git repository."""


class ConflictError(GittrackError):
    """Someone else changed what we were about to write; nothing was overwritten."""


class ImmutableRunError(GittrackError):
    """A write to a run that has already ended: finished runs never change."""


class MalformedRunError(GittrackError):
    """A run commit whose recorded data cannot be read (corrupt, hand-made or hostile)."""


class FilterSyntaxError(UsageError):
    """A filter or order_by string that does not parse or does not type-check; names the position."""


class DataError(GittrackError):
    """A DVC operation failed (missing cache object, unreachable remote...)."""


class ModelError(GittrackError):
    """A model that cannot be saved or loaded."""


class RemoteError(GittrackError):
    """A push or fetch that git could not do (unreachable remote, refused, interrupted)."""


class IndexUnavailable(GittrackError):
    """The local search index could not be opened or rebuilt (read-only .git, full disk...)."""
