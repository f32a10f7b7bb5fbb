"""Names that become parts of refs and tree paths: validation and a reversible, ref-safe encoding.

Experiment names may be any unicode text; they are percent-encoded into one ref component that
satisfies ``git check-ref-format`` and never collides on case-insensitive file systems.
"""

from __future__ import annotations

import functools
import re

from gittrack.errors import InvalidNameError

RUNS_NAMESPACE = "refs/runs/"
DEFAULT_EXPERIMENT = "default"
MAX_KEY_LENGTH = 250
MAX_COMPONENT_BYTES = 200

_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_-.")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_KEY = re.compile(r"[\w\-./: ]+")


def encode_component(text: str) -> str:
    """Encode ``text`` into a canonical ref-safe component (``%XX`` escapes, lowercase ASCII kept)."""
    raw = text.encode("utf-8")
    out: list[str] = []
    last = len(raw) - 1
    for i, byte in enumerate(raw):
        escape = byte not in _SAFE
        if byte == 0x2E:  # '.': never leading, trailing, doubled, nor starting a '.lock' suffix
            escape = i == 0 or i == last or raw[i - 1] == 0x2E or raw[i:] == b".lock"
        out.append(f"%{byte:02X}" if escape else chr(byte))
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def decode_component(component: str) -> str:
    """Invert :func:`encode_component`; raise ``InvalidNameError`` unless the input is canonical."""
    data = bytearray()
    i = 0
    try:
        while i < len(component):
            if component[i] == "%":
                data.append(int(component[i + 1 : i + 3], 16))
                i += 3
            else:
                data.extend(component[i].encode("ascii"))
                i += 1
        text = data.decode("utf-8")
    except (ValueError, UnicodeError, IndexError):
        raise InvalidNameError(f"'{component}' is not an encoded gittrack name") from None
    if not component or encode_component(text) != component:
        raise InvalidNameError(f"'{component}' is not a canonically encoded gittrack name")
    return text


def validate_experiment(name: object) -> str:
    """Check an experiment name and return it; any unicode is fine but control characters."""
    if not isinstance(name, str) or not name:
        raise InvalidNameError("experiment name must be a non-empty string")
    return _checked_experiment(name)


@functools.lru_cache(maxsize=4096)
def _checked_experiment(name: str) -> str:
    """The checks of :func:`validate_experiment` past the type; cached because names repeat."""
    if _CONTROL.search(name):
        raise InvalidNameError(f"experiment name {name!r} contains control characters; remove them")
    if not name.isprintable() and any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        raise InvalidNameError(f"experiment name {name!r} is not valid unicode (lone surrogates)")
    if len(encode_component(name)) > MAX_COMPONENT_BYTES:
        raise InvalidNameError(f"experiment name {name[:40]!r}... is too long; use a shorter name")
    return name


def validate_key(key: object, what: str = "key") -> str:
    """Check a param, metric or tag key as MLflow does: word characters, ``_ - . / :`` and space."""
    if not isinstance(key, str) or not key:
        raise InvalidNameError(f"{what} must be a non-empty string, got {key!r}")
    return _checked_key(key, what)


@functools.lru_cache(maxsize=16384)
def _checked_key(key: str, what: str) -> str:
    """The checks of :func:`validate_key` past the type; cached because keys repeat across runs."""
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidNameError(f"{what} {key[:40]!r}... is longer than {MAX_KEY_LENGTH} characters")
    if not _KEY.fullmatch(key):
        raise InvalidNameError(f"{what} {key!r} has characters other than letters, digits, '_ - . / :' and space")
    if key.startswith("/") or any(part in (".", "..") for part in key.split("/")):
        raise InvalidNameError(f"{what} {key!r} must not start with '/' or contain '.' or '..' segments")
    return key


def experiment_prefix(experiment: str) -> str:
    """The ref prefix holding every run of ``experiment`` (ends with '/')."""
    return f"{RUNS_NAMESPACE}{encode_component(validate_experiment(experiment))}/"


def run_ref(experiment: str, run_id: str) -> str:
    """The ref name of one run."""
    return experiment_prefix(experiment) + run_id


def parse_run_ref(ref: str) -> tuple[str, str]:
    """Split a run ref into (experiment, run_id); ``InvalidNameError`` if it is not one."""
    from gittrack._store.ids import validate_run_id

    if not ref.startswith(RUNS_NAMESPACE):
        raise InvalidNameError(f"'{ref}' is not under {RUNS_NAMESPACE}")
    parts = ref[len(RUNS_NAMESPACE) :].split("/")
    if len(parts) != 2:
        raise InvalidNameError(f"'{ref}' is not of the form {RUNS_NAMESPACE}<experiment>/<run-id>")
    return decode_component(parts[0]), validate_run_id(parts[1])


def metric_filename(key: str) -> str:
    """The file name (without folder) of a metric's history; long keys get a hashed tail."""
    encoded = encode_component(key)
    if len(encoded) > MAX_COMPONENT_BYTES:
        import hashlib

        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
        encoded = f"{encoded[:150]}~{digest}"
    return encoded + ".tsv"


def artifact_path(folder: str | None, name: str) -> str:
    """The path of an artifact inside the run's artifact folder: ``folder/name``, normalised.

    Absolute folders, ``..`` segments and names that would escape the folder are refused.
    """
    import posixpath

    parts: list[str] = []
    for piece in (folder or "", name):
        if not isinstance(piece, str) or piece.startswith("/") or "\\" in piece or _CONTROL.search(piece):
            raise InvalidNameError(f"artifact path {piece!r} must be relative, like 'plots' or 'models/final'")
        parts.extend(p for p in piece.split("/") if p not in ("", "."))
    if not parts or any(p == ".." for p in parts):
        raise InvalidNameError(
            f"artifact path {posixpath.join(folder or '', name)!r} escapes the run's artifact folder"
        )
    for part in parts:  # every part: a folder named '.gitignore' breaks 'dvc checkout' as surely as a file
        if part.endswith(".dvc") or part in _RESERVED_PARTS:
            raise InvalidNameError(
                f"artifact path part {part!r} is reserved (git's, DVC's or gittrack's own); rename it"
            )
    return "/".join(parts)


_RESERVED_PARTS = frozenset((".git", ".gitignore", ".gitattributes", ".gitmodules", ".dvc", ".dvcignore", ".gittrack"))
