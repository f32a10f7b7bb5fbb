"""Fenced code blocks of a Markdown page, in order, with the marker comment written before each.

A block is marked by an HTML comment on the line (or lines) just before its opening fence:
``<!-- no-test: reason -->`` leaves it out of the scenario tests (a reason is required).
"""

from __future__ import annotations

import itertools
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*no-test:(?P<reason>.*?)-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block: its info string's language, its text (dedented), where it starts (the
    line of the opening fence, 1-based) and, when it is marked ``no-test``, the reason."""

    page: str
    lang: str
    code: str
    line: int
    skip: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(path: Path, page: str | None = None) -> list[Block]:
    """Every fenced block of the Markdown file ``path``; a ``no-test`` marker without a reason is
    an error, so that every exclusion says why."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = page or path.name
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence = opening["fence"]
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not re.match(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[j]):
            body.append(lines[j])
            j += 1
        if j == len(lines):
            raise ValueError(f"{page}:{i + 1}: a fenced block is never closed")
        indent = len(opening["indent"])
        code = textwrap.dedent("\n".join(line[indent:] if line[:indent].isspace() else line for line in body))
        found.append(Block(page, opening["info"].strip().split(" ")[0], code + "\n", i + 1, _skip(lines, i, page)))
        i = j + 1
    return found


def _skip(lines: list[str], fence_index: int, page: str) -> str | None:
    k = fence_index - 1
    while k >= 0 and not lines[k].strip():
        k -= 1
    marker = _MARKER.match(lines[k]) if k >= 0 else None
    if marker is None:
        if k >= 0 and "no-test" in lines[k]:
            raise ValueError(f"{page}:{k + 1}: write the marker as <!-- no-test: reason -->")
        return None
    reason = marker["reason"].strip()
    if not reason:
        raise ValueError(f"{page}:{k + 1}: a no-test marker needs a reason")
    return reason


# Shell blocks hold commands to run and synopses (``gittrack push [REMOTE] [--pack | --no-pack]``).
# A line is read as a synopsis: its optional parts are checked against the CLI and left out of the
# command that runs; ``A|B`` (no spaces) takes A; ``X...`` means X; ``cmd a / b`` means ``cmd a`` and
# ``cmd b``; upper-case words (RUN, MODEL...) and <angle> words are placeholders the test fills in.


def scan(text: str):
    """(index, char, inside quotes) for each character of ``text``."""
    quote = None
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = None
            yield i, char, True
        elif char in "'\"":
            quote = char
            yield i, char, True
        else:
            yield i, char, False


def _strip_comment(line: str) -> str:
    for i, char, quoted in scan(line):
        if char == "#" and not quoted and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def commands(code: str) -> list[str]:
    """The logical command lines of a shell block: comments and blank lines dropped, lines ending
    in a backslash and indented lines (a synopsis wrapped by hand) joined to the one before."""
    logical: list[str] = []
    joining = False
    for raw in code.splitlines():
        line = _strip_comment(raw)
        if not line.strip():
            joining = False
            continue
        if logical and (joining or raw[:1].isspace()):
            logical[-1] = f"{logical[-1]} {line.strip()}"
        else:
            logical.append(line.strip())
        joining = logical[-1].endswith("\\")
        if joining:
            logical[-1] = logical[-1][:-1].rstrip()
    return logical


def _top_level(line: str):
    """(index, char) of characters outside quotes and brackets."""
    depth = 0
    for i, char, quoted in scan(line):
        if quoted:
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif depth == 0:
            yield i, char


def alternatives(line: str) -> list[str]:
    """``gittrack artifacts list RUN / get RUN -o DIR`` -> both commands in full."""
    cuts = [i for i, char in _top_level(line) if char == "/" and line[i - 1 : i + 2] == " / "]
    parts = [line[a + 1 : b].strip() for a, b in zip([-2, *cuts], [*cuts, len(line)], strict=True)]
    parts[0] = line[: cuts[0]].strip() if cuts else line
    words = parts[0].split()
    command = list(itertools.takewhile(lambda word: re.fullmatch(r"[a-z][a-z-]*", word), words))
    prefix = " ".join(command[:-1])
    return [parts[0], *(p if p.split()[0] == words[0] else f"{prefix} {p}" for p in parts[1:])]


def minimal(line: str) -> str:
    """The command a synopsis stands for with nothing optional: brackets dropped, ``A|B`` -> A,
    ``X...`` -> X."""
    kept = []
    depth = 0
    for _, char, quoted in scan(line):
        if not quoted and char == "[":
            depth += 1
        elif not quoted and char == "]":
            depth -= 1
        elif depth == 0:
            kept.append(char)
    text = "".join(kept)
    pipes = [i for i, char in _top_level(text) if char == "|" and " " not in text[i - 1 : i + 2]]
    for i in reversed(pipes):  # A|B -> A: drop from the bar to the end of the word
        end = next((j for j in range(i, len(text)) if text[j].isspace()), len(text))
        text = text[:i] + text[end:]
    text = re.sub(r"\.\.\.(?=\s|$)", "", text)
    return " ".join(text.split())


def option_words(line: str) -> tuple[list[str], list[str]]:
    """(the words before the first option or placeholder, every option named), for checking a
    synopsis against the CLI; words after a lone ``--`` belong to another program."""
    import shlex

    flat = "".join(" " if char in "[]|" and not quoted else char for _, char, quoted in scan(line))
    words = shlex.split(flat)
    if "--" in words:
        words = words[: words.index("--")]
    head = []
    for word in words:
        if not re.fullmatch(r"[a-z][a-z-]*", word):
            break
        head.append(word)
    options = [w.split("=")[0] for w in words if re.fullmatch(r"--?[A-Za-z][\w-]*(=.*)?", w)]
    return head, options
