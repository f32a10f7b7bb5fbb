"""Run identities: time-sortable random ids (ULID layout, lowercase) and friendly generated names."""

from __future__ import annotations

import os
import re
import time
from typing import Any

from gittrack.errors import InvalidNameError, InvalidValueError

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase
RUN_ID_LENGTH = 26
RUN_ID_PATTERN = rf"[{_ALPHABET}]{{{RUN_ID_LENGTH}}}"  # a full run id, for larger regexes
_RUN_ID = re.compile(rf"^{RUN_ID_PATTERN}$")
_PREFIX = re.compile(rf"^[{_ALPHABET}]{{1,{RUN_ID_LENGTH}}}$")
MAX_RUN_NAME_LENGTH = 500

_ADJECTIVES = tuple(
    """
    able amber bold brave bright brisk calm clever cosmic crisp curious daring eager fancy
    fierce gentle glad golden grand happy hardy jolly keen kind lively lucky merry mighty nimble
    noble patient plucky proud quick quiet rapid rare ready royal rustic shy silent silver sleek
    smart snowy solar spry steady stellar still sunny swift tidy upbeat valiant vivid warm wise
    witty young zesty
    """.split()
)
_ANIMALS = tuple(
    """
    ant bat bear bee bison boar carp cat crane crow deer dingo dove duck eagle eel elk falcon
    ferret finch fox frog gecko goat goose hare hawk heron horse ibis jay koala lark lemur lion
    lynx mole moose newt otter owl panda puma quail raven robin seal shark sloth snail swan
    tiger toad trout viper whale wolf wren yak zebra
    """.split()
)


def _below(n: int) -> int:
    """A random number in ``[0, n)`` from the OS's generator (the bias of 64 bits modulo n is
    negligible; the ``secrets`` module costs milliseconds to import)."""
    return int.from_bytes(os.urandom(8), "big") % n


def new_run_id(now_ms: int | None = None) -> str:
    """A 26-character id: 48 bits of milliseconds then 80 random bits, so ids sort by creation."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(RUN_ID_LENGTH):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def validate_run_id(run_id: object) -> str:
    """Return ``run_id`` if it is a well-formed full run id, else raise ``InvalidNameError``."""
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise InvalidNameError(f"'{run_id}' is not a run id ({RUN_ID_LENGTH} characters of [0-9a-z])")
    return run_id


def looks_like_prefix(text: str) -> bool:
    """True if ``text`` could be the start of a run id."""
    return bool(_PREFIX.match(text))


def new_run_name() -> str:
    """A readable name such as ``brave-owl-42``: metadata only, never an identity."""
    return f"{_ADJECTIVES[_below(len(_ADJECTIVES))]}-{_ANIMALS[_below(len(_ANIMALS))]}-{_below(100)}"


SHORT_ID_LENGTH = 12


def short_id(run_id: str) -> str:
    """The abbreviation shown to people: the 10 time characters plus 2 random ones.

    Runs started in the same second share their first 8 characters, so 8 (git's habit) is not
    enough; 12 is unique unless two runs start in the same millisecond.
    """
    return run_id[:SHORT_ID_LENGTH]


def checked_run_name(name: Any) -> str:
    """``name`` if it can name a run: one non-empty line of printable text, at most
    ``MAX_RUN_NAME_LENGTH`` characters."""
    if not isinstance(name, str) or not name.strip() or not name.isprintable() or len(name) > MAX_RUN_NAME_LENGTH:
        shown = name if not isinstance(name, str) or len(name) < 60 else name[:60] + "..."
        raise InvalidValueError(
            f"run name must be a non-empty line of printable text of at most {MAX_RUN_NAME_LENGTH} characters, "
            f"got {shown!r}"
        )
    return name
