"""YAML in and out. Reading: safe loading only, with a size cap (run data may come from a remote).

Writing uses a small block-style emitter for the plain data of run records (mappings, lists,
strings, numbers, booleans, null): PyYAML's pure-Python representer costs milliseconds per
checkpoint, more than the rest of a run. Output is standard YAML that any YAML 1.1/1.2 reader
loads back to the same values (tested against PyYAML's safe loader).
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any

from gittrack.errors import MalformedRunError

MAX_YAML_BYTES = 16 * 1024 * 1024

_PLAIN = re.compile(r"[A-Za-z_](?:[A-Za-z0-9_./ -]*[A-Za-z0-9_./-])?")
_RESERVED = frozenset("y n yes no true false on off null".split())
# YAML forbids these raw, or reads them as line breaks; JSON leaves them unescaped.
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _quote(text: str) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


@functools.lru_cache(maxsize=65_536)
def _text(value: str) -> str:
    """A string scalar, plain when YAML reads it back as that string, else quoted (memoised: keys
    and many values repeat from record to record)."""
    if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
        return value
    return _quote(value)


def _scalar(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _text(value)
    if kind is float:
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        return text.replace("e", ".0e", 1) if "e" in text and "." not in text else text
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _scalar(float(value))
    if isinstance(value, str):
        return _text(str(value))
    if isinstance(value, dict | list | tuple) and not value:
        return "{}" if isinstance(value, dict) else "[]"
    raise TypeError(f"cannot write {type(value).__name__} to YAML")


_CONTAINERS = (dict, list, tuple)
_SCALARS = frozenset((str, float, int, bool, type(None)))


def _block(value: Any) -> bool:
    return isinstance(value, _CONTAINERS) and len(value) > 0


def _lines(value: dict[Any, Any] | list[Any] | tuple[Any, ...], indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if type(key) is not str:
                if not isinstance(key, str):
                    raise TypeError(f"YAML keys written by gittrack are strings, got {type(key).__name__}")
                key = str(key)
            if type(item) not in _SCALARS and item and isinstance(item, _CONTAINERS):
                out.append(f"{pad}{_text(key)}:")
                out.extend(_lines(item, indent + 2 if isinstance(item, dict) else indent))
            else:
                out.append(f"{pad}{_text(key)}: {_scalar(item)}")
        return out
    for item in value:
        if _block(item):
            nested = _lines(item, indent + 2)
            out.append(f"{pad}- {nested[0][indent + 2 :]}")
            out.extend(nested[1:])
        else:
            out.append(f"{pad}- {_scalar(item)}")
    return out


def dump_yaml(data: dict[str, Any]) -> bytes:
    """Serialise a mapping as block-style UTF-8 YAML, keys in insertion order."""
    if not data:
        return b"{}\n"
    return ("\n".join(_lines(data, 0)) + "\n").encode("utf-8")


@functools.cache
def _plain_loader() -> type:
    """A safe loader that builds plain data only: no timestamps, binary, sets or ordered pairs
    (JSON's types, which every reader of run data expects)."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class PlainLoader(base):  # type: ignore[misc, valid-type]
        yaml_implicit_resolvers = {
            first: [(tag, rx) for tag, rx in resolvers if not tag.endswith(":timestamp")]
            for first, resolvers in base.yaml_implicit_resolvers.items()
        }

    def refuse(loader: Any, node: Any) -> Any:
        raise yaml.constructor.ConstructorError(None, None, f"the type {node.tag} is not allowed", node.start_mark)

    for kind in ("timestamp", "binary", "set", "omap", "pairs"):
        PlainLoader.add_constructor(f"tag:yaml.org,2002:{kind}", refuse)
    return PlainLoader


def _refuse_aliases(data: bytes, loader: type, what: str) -> None:
    """Raise if the document uses an alias (``*name``): expanding nested aliases costs memory and
    time exponential in the input's size (a "billion laughs"), and gittrack never writes any."""
    import yaml

    for event in yaml.parse(data, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            raise MalformedRunError(f"{what} uses YAML aliases (*{event.anchor}); gittrack refuses them")


def load_yaml(data: bytes, what: str) -> Any:
    """Parse untrusted YAML bytes into plain data; oversize input, aliases, non-plain types or
    unparsable input raise ``MalformedRunError``."""
    if len(data) > MAX_YAML_BYTES:
        raise MalformedRunError(f"{what} is {len(data)} bytes, over the {MAX_YAML_BYTES} byte limit")
    import yaml

    loader = _plain_loader()
    try:
        if b"*" in data:  # an alias needs one; gittrack's own files rarely have any, so most skip the scan
            _refuse_aliases(data, loader, what)
        return yaml.load(data, Loader=loader)  # noqa: S506 - a subclass of the safe loader
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MalformedRunError(f"{what} is not valid YAML ({first})") from None
