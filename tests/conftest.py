"""Fixtures: a throwaway HOME with a git identity, fresh repositories, a fresh process state."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

# Isolate git from the machine's config before pygit2 reads it (libgit2 caches the search path).
_HOME = Path(tempfile.mkdtemp(prefix="gittrack-home-"))
(_HOME / ".gitconfig").write_text(
    "[user]\n\tname = Ada Tester\n\temail = ada@example.com\n[init]\n\tdefaultBranch = main\n"
)
os.environ["HOME"] = str(_HOME)
os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
for _var in (
    "GITTRACK_RUN_ID",
    "GITTRACK_RUN_NAMED",
    "GITTRACK_EXPERIMENT_NAMED",
    "GITTRACK_EXPERIMENT",
    "GITTRACK_REPO",
    "GITTRACK_CHECKPOINT_INTERVAL",
    "GITTRACK_SYSTEM_METRICS",
    "GITTRACK_SYSTEM_METRICS_INTERVAL",
):
    os.environ.pop(_var, None)

BIN = Path(sys.executable).parent

# Property tests check behaviour, not speed: on 2 shared cores a first example can take 400 ms.
hypothesis_settings.register_profile("gittrack", deadline=None)
hypothesis_settings.load_profile("gittrack")


def optional(module: str, reason: str):
    """Import an optional package, or skip the test with ``reason`` when it is missing. Under
    ``CI=true``, where ``.[dev]`` installs every one, a missing package fails instead of skipping."""
    if os.environ.get("CI") == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=reason)


def optional_programs(*programs: str, install: str, module_level: bool = False) -> list[str]:
    """The paths of system programs (names on PATH, or paths), or skip the test when one is missing,
    saying how to ``install`` it. Under ``CI=true``, where .ci/run installs every one, a missing
    program fails instead of skipping."""
    found = [p if os.path.exists(p) else shutil.which(p) for p in programs]
    missing = [p for p, path in zip(programs, found, strict=True) if path is None]
    if missing and os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and no {', '.join(missing)}: .ci/run installs it ({install})", pytrace=False)
    if missing:
        pytest.skip(f"needs {', '.join(missing)}: {install}", allow_module_level=module_level)
    return [str(path) for path in found]


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run real git in ``cwd`` and return its stdout."""
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """Every test starts as a fresh process would: no active run, no experiment or tracking URI
    selected, autologging off, no cached clients (runs a test left open end KILLED)."""
    import gittrack

    yield
    gittrack.reset_state()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git repository with one commit (train.py, README.md, .gitignore), as the current folder."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q")
    (root / "train.py").write_text("print('training')\n")
    (root / "README.md").write_text("# project\n")
    (root / ".gitignore").write_text("*.log\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def gittrack_cmd() -> list[str]:
    """The installed ``gittrack`` console script, to run as a real subprocess."""
    return [str(BIN / "gittrack")]


@pytest.fixture
def dvc_project(repo: Path) -> Path:
    """The repo fixture set up for artifacts by ``gittrack init`` (DVC, no remote), as models need."""
    from click.testing import CliRunner

    from gittrack._data import dvcstore
    from gittrack.cli import main

    dvcstore.open_dvc.cache_clear()
    result = CliRunner().invoke(main, ["init", "--commit"])
    assert result.exit_code == 0, result.output
    return repo


@pytest.fixture
def autologging(dvc_project: Path):
    """Autologging on for the test, then off again (patches undone, runs it left open ended)."""
    import gittrack

    yield gittrack.autolog
    gittrack.autolog(disable=True)
