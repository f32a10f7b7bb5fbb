"""Run a documentation page as a scenario: its shell and Python blocks in order, in a fresh folder.

Shell lines run one at a time with bash (``cd`` moves the scenario); synopses run with nothing
optional, after their options are checked against the CLI (tests/docblocks.py). Python blocks run
in one namespace per page, in the page's repository. Other blocks (formats, outputs) are checked
by a function of the page, or, for a ``text`` block right after a shell block, compared with the
output of that block's last command. Everything a page's configuration names must be used, so
that it cannot go stale when the page changes.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import signal
import subprocess
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import BIN
from tests.docblocks import Block, alternatives, blocks, commands, minimal, option_words, scan

ROOT = Path(__file__).resolve().parent.parent
Step = str | Callable[["Scenario"], object]
Value = str | Callable[["Scenario"], str]
UPPER = re.compile(r"(?<![\w./-])[A-Z][A-Z0-9_]*(?![\w./-])")
ANGLE = re.compile(r"<[a-z][\w -]*>")
NOT_PLACEHOLDERS = {"HEAD"}


@dataclass
class Page:
    """What a page needs to run: its set-up, the values of its placeholders, and the few lines
    that need help, each keyed by the line as the page writes it (comments left out) or, for a
    block, by the start of its first line."""

    path: str
    setup: Callable[[Scenario], None] | None = None
    prelude: str = ""  # Python run before the first block: the names the page's snippets assume
    values: dict[str, Value] = field(default_factory=dict)  # placeholder or example text -> value
    replace: dict[str, str] = field(default_factory=dict)  # text of the page -> text the test runs
    skip: dict[str, str] = field(default_factory=dict)  # line -> why it is not run
    exits: dict[str, int] = field(default_factory=dict)  # line -> its exit code, when not 0
    expect: dict[str, list[str]] = field(default_factory=dict)  # line -> text its output shows
    before: dict[str, Step] = field(default_factory=dict)  # line or block -> what happens first
    after: dict[str, Step] = field(default_factory=dict)  # line or block -> checks afterwards
    checks: dict[str, Callable[[Scenario, Block], None]] = field(default_factory=dict)  # block -> check
    serve: dict[str, str] = field(default_factory=dict)  # line that starts a server -> a path to fetch from it


class Scenario:
    """One page being run: the folder, the namespace, and what the configuration used."""

    def __init__(self, page: Page, tmp: Path, chdir: Callable[[Path], None]) -> None:
        self.page = page
        self.tmp = tmp
        self.cwd = tmp
        self.remote = tmp / "remote.git"
        self.dvc_remote = tmp / "dvc-remote"
        self.chdir = chdir
        self.ns: dict[str, object] = {"__name__": "__doc__"}
        self.output = ""  # stdout and stderr of the last command
        self.line = ""  # the line being run, and which occurrence of a placeholder is filled
        self.index = 0
        self.used: set[tuple[str, str]] = set()
        (tmp / "tmp").mkdir()
        self.env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "TMPDIR": str(tmp / "tmp")}
        self.env.pop("COLUMNS", None)

    # -- helpers for set-ups, values and checks --------------------------------------------------

    def sh(self, command: str, cwd: Path | None = None, status: int | None = 0) -> str:
        """Run ``command`` with bash; check its exit code (unless ``status`` is None)."""
        print(f"$ {command}")  # pytest shows the trace of a failing page
        result = subprocess.run(
            ["bash", "-c", command], cwd=cwd or self.cwd, env=self.env, input="y\n", capture_output=True,
            text=True, timeout=300, check=False,
        )  # fmt: skip
        self.output = result.stdout + result.stderr
        print(self.output, end="")
        if status is not None and result.returncode != status:
            raise AssertionError(f"`{command}` exited with {result.returncode}, not {status}:\n{self.output[-3000:]}")
        return result.stdout

    def serve(self, command: str, path: str) -> None:
        """Start a server line (on a free port unless it names one), wait for the URL it prints,
        fetch ``path`` from it, then stop it with Ctrl-C as a person would; it must stop cleanly."""
        print(f"$ {command} &")
        if "--port" not in command:
            command += " --port 0"
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command}"], cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, preexec_fn=_default_sigint,
        )  # fmt: skip
        try:
            first = process.stdout.readline()
            found = re.search(r"http://[^\s]+", first)
            assert found, f"`{command}` printed no URL: {first}"
            with urllib.request.urlopen(found[0].rstrip("/") + path, timeout=60) as response:
                assert response.status == 200, response.status
                body = response.read().decode()
        finally:
            process.send_signal(signal.SIGINT)
            rest = process.communicate(timeout=30)[0]
        self.output = first + rest + body
        print(self.output)
        assert process.returncode == 0, f"`{command}` stopped by Ctrl-C with {process.returncode}"

    def runs(self, experiment: str | None = None) -> list:
        """Every run of the repository (deleted ones too), oldest first."""
        import gittrack

        frame = gittrack.Client(self.cwd).search_runs(run_view="all", order_by=["start_time ASC"])
        if experiment is not None:
            frame = frame[frame["experiment"] == experiment]
        return list(frame["run_id"])

    def run(self, i: int, experiment: str | None = None) -> str:
        return self.runs(experiment)[i]

    # -- running the page ------------------------------------------------------------------------

    def _use(self, kind: str, key: str) -> bool:
        if key in getattr(self.page, kind):
            self.used.add((kind, key))
            return True
        return False

    def _step(self, kind: str, *keys: str) -> None:
        for key in keys:
            if self._use(kind, key):
                step = getattr(self.page, kind)[key]
                if callable(step):
                    if step(self) is False:  # a check written as a lambda
                        raise AssertionError(f"{self.page.path}: the check {kind} {key!r} failed:\n{self.output}")
                else:
                    for command in commands(step):
                        self.cd(command) or self.sh(command)
                return

    def cd(self, command: str) -> bool:
        """Move the scenario for ``cd FOLDER`` (bash forgets it between lines); False otherwise."""
        words = command.split()
        if words[0] != "cd" or len(words) != 2:
            return False
        self.cwd = (self.cwd / words[1]).resolve()
        assert self.cwd.is_dir(), f"no folder {self.cwd}"
        return True

    def fill(self, text: str, shell: bool) -> str:
        """``text`` with the page's example values and placeholders replaced; in a shell line every
        placeholder must have a value."""
        for old, new in self.page.replace.items():
            if old in text:
                self.used.add(("replace", old))
                text = text.replace(old, new)
        literal = sorted((k for k in self.page.values if not UPPER.fullmatch(k) and not ANGLE.fullmatch(k)),
                         key=len, reverse=True)  # fmt: skip
        parts = [re.escape(k) for k in literal] + [ANGLE.pattern] + ([UPPER.pattern] if shell else [])
        pattern = re.compile("|".join(parts))
        return "".join(self._fill_line(line, pattern, shell) for line in text.splitlines(keepends=True))

    def _fill_line(self, line: str, pattern: re.Pattern, shell: bool) -> str:
        seen: dict[str, int] = {}  # the n-th RUN of a line may stand for another run than the first
        quoted = {i for i, _, inside in scan(line) if inside} if shell else set()

        def value(match: re.Match) -> str:
            key = match[0]
            if key in NOT_PLACEHOLDERS or (not shell and key not in self.page.values):
                return key
            if match.start() in quoted and UPPER.fullmatch(key) and key not in self.page.values:
                return key  # 'metrics.rmse ASC' is text
            if not self._use("values", key):
                raise AssertionError(f"no value for the placeholder {key} in: {line.strip()}")
            self.line, self.index = line.strip(), seen.get(key, 0)
            seen[key] = self.index + 1
            given = self.page.values[key]
            return str(given(self) if callable(given) else given)

        return pattern.sub(value, line)

    def run_shell(self, block: Block) -> None:
        for line in commands(block.code):
            if self._use("skip", line):
                continue
            for alternative in alternatives(line):
                keys = (line, alternative) if alternative != line else (line,)
                if alternative.startswith("gittrack "):
                    check_options(alternative, block)
                command = self.fill(minimal(alternative), shell=True)
                self._step("before", *keys)
                if self.cd(command):
                    continue
                status = next((self.page.exits[k] for k in keys if self._use("exits", k)), 0)
                try:
                    served = next((k for k in keys if self._use("serve", k)), None)
                    self.serve(command, self.page.serve[served]) if served else self.sh(command, status=status)
                except AssertionError as error:
                    raise AssertionError(f"{block.where}: {line}\n{error}") from None
                for key in keys:
                    if self._use("expect", key):
                        for text in self.page.expect[key]:
                            assert text in self.output, (
                                f"{block.where}: `{command}` did not show {text!r}:\n{self.output}"
                            )
                self._step("after", *keys)

    def run_python(self, block: Block) -> None:
        """Run the block a statement at a time, as a notebook would, filling each statement's
        placeholders just before it runs (a value may name the run the statement before made);
        the value of a last bare expression is kept as ``_``."""
        from gittrack._data import dvcstore

        dvcstore.open_dvc.cache_clear()  # shell commands may have changed DVC's set-up
        self.chdir(self.cwd)
        print(f">>> {block.where}")
        lines = block.code.splitlines(keepends=True)
        statements = ast.parse(block.code, filename=block.page).body
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                for statement in statements:
                    source = self.fill("".join(lines[statement.lineno - 1 : statement.end_lineno]), shell=False)
                    padded = "\n" * (block.line + statement.lineno - 1) + source  # tracebacks show the page's lines
                    if statement is statements[-1] and isinstance(statement, ast.Expr):
                        self.ns["_"] = eval(compile(padded, block.page, "eval"), self.ns)
                    else:
                        exec(compile(padded, block.page, "exec"), self.ns)
        except Exception as error:
            error.add_note(f"in the Python block at {block.where}")
            raise
        finally:
            self.output = printed.getvalue()
            print(self.output, end="")

    def run_page(self) -> None:
        page_blocks = blocks(ROOT / self.page.path, self.page.path)
        if self.page.setup:
            self.page.setup(self)
        if self.page.prelude:
            self.chdir(self.cwd)
            exec(self.page.prelude, self.ns)
        previous: Block | None = None
        for block in page_blocks:
            line = block.code.strip().splitlines()[0] if block.code.strip() else ""
            first = next(
                (k for k in (*self.page.checks, *self.page.before, *self.page.after) if line.startswith(k)), line
            )
            if block.skip:
                pass
            elif self._use("checks", first):
                self.chdir(self.cwd)
                self.page.checks[first](self, block)
            elif block.lang == "sh":
                self.run_shell(block)  # its lines have their own before and after steps
            elif block.lang == "python":
                self._step("before", first)
                self.run_python(block)
                self._step("after", first)
            elif block.lang == "text" and previous is not None and previous.lang == "sh":
                compare_output(self.output, block)
            else:
                raise AssertionError(
                    f"{block.where}: a {block.lang or 'plain'} block with no check; add one to the page's checks "
                    "in tests/test_docs.py, or a no-test marker with the reason"
                )
            previous = block
        unused = [
            f"{kind}: {key!r}"
            for kind in ("values", "replace", "skip", "exits", "expect", "before", "after", "checks", "serve")
            for key in getattr(self.page, kind)
            if (kind, key) not in self.used
        ]
        assert not unused, f"{self.page.path}: the test names text the page no longer has: {unused}"


def _default_sigint() -> None:
    """In the child: SIGINT as a terminal delivers it, even when the suite was started in the
    background by a shell that ignores SIGINT (which children inherit)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def check_options(line: str, block: Block) -> None:
    """Every command and option a synopsis names exists in the CLI."""
    import click

    from gittrack.cli import main

    head, options = option_words(line)
    command: click.Command = main
    for word in head[1:]:
        if not isinstance(command, click.Group) or word not in command.commands:
            break
        command = command.commands[word]
    runnable = not isinstance(command, click.Group) or command.invoke_without_command  # 'gittrack sweep -- ...'
    assert runnable, f"{block.where}: `{line}` names no gittrack command"
    known = {name for param in command.params for name in (*param.opts, *param.secondary_opts)} | {"-h", "--help"}
    unknown = [option for option in options if option not in known]
    assert not unknown, f"{block.where}: `{line}`: {' '.join(head)} has no option {', '.join(unknown)}"


def normalize(text: str) -> str:
    return re.sub(r"\b[0-9a-f]{7,64}\b", "<hex>", text.rstrip())


def compare_output(output: str, block: Block) -> None:
    """Each line of a ``text`` block appears in the output of the command before it (hex ids
    aside)."""
    shown = {normalize(line) for line in output.splitlines()}
    missing = [line for line in block.code.splitlines() if line.strip() and normalize(line) not in shown]
    assert not missing, f"{block.where}: the output lacks {missing}; it was:\n{output}"
