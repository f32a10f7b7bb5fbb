"""YAML in and out. Reading: safe loading only, with a size cap (run data may come from a remote).

Writing uses a small block-style emitter for the plain data of run records (mappings, lists,
strings, numbers, booleans, null): PyYAML's pure-Python representer costs milliseconds per
checkpoint, more than the rest of a run. Output is standard YAML that any YAML 1.1/1.2 reader
loads back to the same values (tested against PyYAML's safe loader).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from gittrack.errors import MalformedRunError

MAX_YAML_BYTES = 16 * 1024 * 1024

_PLAIN = re.compile(r"[A-Za-z_](?:[A-Za-z0-9_./ -]*[A-Za-z0-9_./-])?")
_RESERVED = frozenset("y n yes no true false on off null".split())
# YAML forbids these raw, or reads them as line breaks; JSON leaves them unescaped.
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")
# what JSON escapes (quote, backslash, C0 controls) and what YAML needs escaped on top (_UNSAFE)
_ESCAPED = re.compile('["\\\\\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]')


def _quote(text: str) -> str:
    if _ESCAPED.search(text) is None:  # most quoted values (ids, times, numbers as text): nothing to escape
        return f'"{text}"'
    quoted = json.dumps(text, ensure_ascii=False)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


@functools.lru_cache(maxsize=65_536)
def _text(value: str) -> str:
    """A string scalar, plain when YAML reads it back as that string, else quoted (memoised: keys
    and many values repeat from record to record)."""
    if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
        return value
    return _quote(value)


_FLOAT_WORDS = {"nan": ".nan", "inf": ".inf", "-inf": "-.inf"}


def _float(value: float) -> str:
    text = repr(value)
    if "e" in text:  # 1e-05: YAML 1.1 readers need a dot in the mantissa to see a float
        return text if "." in text else text.replace("e", ".0e", 1)
    return _FLOAT_WORDS.get(text, text)


def _scalar(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _text(value)
    if kind is float:
        return _float(value)
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(float(value))
    if isinstance(value, str):
        return _text(str(value))
    if isinstance(value, dict | list | tuple) and not value:
        return "{}" if isinstance(value, dict) else "[]"
    raise TypeError(f"cannot write {type(value).__name__} to YAML")


_CONTAINERS = (dict, list, tuple)


def _lines(value: dict[Any, Any] | list[Any] | tuple[Any, ...], pad: str, out: list[str]) -> None:
    """Append the lines of a non-empty container, indented by ``pad``, to ``out``. Written for
    speed (pull checks every incoming run's ``run.yaml`` against its summary with it): the common
    types are tested first, by identity."""
    if type(value) is dict or isinstance(value, dict):
        nested = pad + "  "
        for key, item in value.items():
            if type(key) is not str:
                if not isinstance(key, str):
                    raise TypeError(f"YAML keys written by gittrack are strings, got {type(key).__name__}")
                key = str(key)
            kind = type(item)
            if kind is str:
                out.append(f"{pad}{_text(key)}: {_text(item)}")
            elif kind is float:
                out.append(f"{pad}{_text(key)}: {_float(item)}")
            elif kind is int:
                out.append(f"{pad}{_text(key)}: {item}")
            elif item is None:
                out.append(f"{pad}{_text(key)}: null")
            elif item and (kind is dict or kind is list or isinstance(item, _CONTAINERS)):
                out.append(f"{pad}{_text(key)}:")
                _lines(item, nested if isinstance(item, dict) else pad, out)
            else:
                out.append(f"{pad}{_text(key)}: {_scalar(item)}")
        return
    for item in value:
        if item and isinstance(item, _CONTAINERS):
            start = len(out)
            _lines(item, pad + "  ", out)
            out[start] = f"{pad}- {out[start][len(pad) + 2 :]}"
        else:
            out.append(f"{pad}- {_scalar(item)}")


def dump_yaml(data: dict[str, Any]) -> bytes:
    """Serialise a mapping as block-style UTF-8 YAML, keys in insertion order."""
    if not data:
        return b"{}\n"
    out: list[str] = []
    _lines(data, "", out)
    out.append("")
    return "\n".join(out).encode("utf-8")


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
