"""YAML in and out: safe loading only, with a size cap, because run data may come from a remote."""

from __future__ import annotations

from typing import Any

from gittrack.errors import MalformedRunError

MAX_YAML_BYTES = 16 * 1024 * 1024


def _yaml():
    import yaml

    return yaml


def dump_yaml(data: Any) -> bytes:
    """Serialise ``data`` as block-style UTF-8 YAML with keys in insertion order."""
    yaml = _yaml()
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True, width=10_000)
    return text.encode("utf-8")


def load_yaml(data: bytes, what: str) -> Any:
    """Parse untrusted YAML bytes; oversize or unparsable input raises ``MalformedRunError``."""
    if len(data) > MAX_YAML_BYTES:
        raise MalformedRunError(f"{what} is {len(data)} bytes, over the {MAX_YAML_BYTES} byte limit")
    yaml = _yaml()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(data, Loader=loader)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MalformedRunError(f"{what} is not valid YAML ({first})") from None
