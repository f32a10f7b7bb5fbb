"""Autologging's import hooks: nothing imported up front, frameworks patched when imported, all undone."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import types

import gittrack
from gittrack.integrations import _hooks

FRAMEWORKS = ("sklearn", "xgboost", "lightgbm", "torch", "lightning", "optuna", "hyperopt", "transformers", "psutil",
              "numpy", "pygit2", "pynvml")  # fmt: skip


def _python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_import_and_autolog_load_no_framework() -> None:
    out = _python(
        f"""
        import sys, time
        start = time.perf_counter()
        import gittrack
        took = time.perf_counter() - start
        gittrack.autolog()
        print(round(took * 1000), ",".join(m for m in {FRAMEWORKS} if m in sys.modules))
        """
    )
    milliseconds, loaded = [*out.split(" ", 1), ""][:2]
    assert loaded == ""
    assert int(milliseconds) < 100


def test_frameworks_imported_after_autolog_are_patched_and_keep_their_loader() -> None:
    out = _python(
        """
        import gittrack
        gittrack.autolog()
        import xgboost, lightgbm
        from sklearn.linear_model import Ridge
        print(hasattr(Ridge.fit, "__gittrack_original__"), hasattr(xgboost.train, "__gittrack_original__"),
              hasattr(lightgbm.train, "__gittrack_original__"), type(xgboost.__spec__.loader).__name__)
        gittrack.autolog(disable=True)
        print(hasattr(Ridge.fit, "__gittrack_original__"), hasattr(xgboost.train, "__gittrack_original__"))
        import sys
        print(any(type(f).__name__ == "_Finder" for f in sys.meta_path))
        """
    )
    assert out.splitlines() == ["True True True SourceFileLoader", "False False", "False"]


def test_a_hook_that_fails_does_not_break_the_import(monkeypatch, caplog) -> None:
    def broken(module: types.ModuleType) -> None:
        raise RuntimeError("hook failed")

    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    _hooks.on_import("colorsys", broken)
    try:
        with caplog.at_level(logging.WARNING, logger="gittrack"):
            import colorsys
    finally:
        _hooks.remove(broken)
    assert colorsys.rgb_to_hsv(1, 0, 0) == (0.0, 1.0, 1)
    assert "autologging could not patch colorsys (RuntimeError: hook failed)" in caplog.text
    assert _hooks._finder not in sys.meta_path


def test_autolog_without_a_repository_warns_and_trains(tmp_path, monkeypatch, caplog) -> None:
    from sklearn.linear_model import Ridge

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    gittrack.autolog.sklearn()
    try:
        with caplog.at_level(logging.WARNING, logger="gittrack"):
            model = Ridge().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    finally:
        gittrack.autolog(disable=True)
    assert model.predict([[3.0]])[0] > 2
    assert "could not log the run: NotARepositoryError" in caplog.text
