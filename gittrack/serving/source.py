"""Which model a server serves: a spec resolved through the registry, loaded, and followed.

Specs: ``MODEL`` (the latest version), ``MODEL@STAGE``, ``MODEL@vX.Y.Z``, ``MODEL:X.Y.Z``,
``models:/MODEL@STAGE``, ``models:/MODEL/STAGE|VERSION`` and ``runs:/RUN/PATH``. A stage (or
``latest``) is *followed*: :class:`Follower` re-reads the registry's tags every few seconds and, when
another version holds the stage, loads it and swaps it in; requests in flight finish on the model
they started with. A version or a run is fixed, and ``fixed=True`` pins whatever the stage holds at
start.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gittrack.errors import GittrackError, ModelError, UsageError
from gittrack.serving.schema import InputSchema, from_signature

log = logging.getLogger("gittrack")
_repo_lock = threading.Lock()  # the follower's reads and the puller's pulls share one repository handle
_VERSION = re.compile(r"^v?\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class Spec:
    """A parsed model spec: a registered ``model`` with a ``selector`` (stage, version or
    ``latest``), or a ``run`` and artifact ``path``."""

    text: str
    model: str | None = None
    selector: str | None = None
    run: str | None = None
    path: str | None = None

    @property
    def follows(self) -> bool:
        """Whether what it names can change: a stage or ``latest``, not a version or a run."""
        return self.model is not None and not _VERSION.match(self.selector or "")


def parse_spec(text: str) -> Spec:
    """A :class:`Spec` from the command line's MODEL argument."""
    if text.startswith("runs:/"):
        run, _, path = text[len("runs:/") :].lstrip("/").partition("/")
        if not run or not path:
            raise UsageError(f"model URI {text!r} is not of the form runs:/<run>/<name>")
        return Spec(text, run=run, path=path)
    body = text[len("models:/") :] if text.startswith("models:/") else text
    if text.startswith("models:/") and "/" in body and "@" not in body:
        name, _, selector = body.partition("/")
        selector = _version(selector) if selector[:1].isdigit() or _VERSION.match(selector) else selector.lower()
    elif "@" in body:
        name, _, selector = body.partition("@")
    elif ":" in body:
        name, _, selector = body.partition(":")
        selector = _version(selector)
    else:
        name, selector = body, "latest"
    if not name or not selector or "/" in selector:
        raise UsageError(
            f"{text!r} is not MODEL, MODEL@STAGE, MODEL@VERSION, MODEL:VERSION, models:/... or runs:/RUN/PATH"
        )
    return Spec(text, model=name, selector=selector)


def _version(text: str) -> str:
    if not _VERSION.match(text):
        raise UsageError(f"{text!r} is not a version like v1.2.0")
    return text if text.startswith("v") else f"v{text}"


@dataclass
class Loaded:
    """A loaded model and what the server says about it."""

    model: Any  # has predict(data, params=None)
    schema: InputSchema | None
    version: str | None
    run_id: str
    folder: Path
    takes_params: bool

    def headers(self) -> dict[str, str]:
        """The response headers naming what answered."""
        out = {"x-gittrack-run-id": self.run_id}
        if self.version:
            out["x-gittrack-model-version"] = self.version
        return out


def resolve(client: Any, spec: Spec) -> tuple[str | None, str, str]:
    """(version, run id, artifact path) that ``spec`` names now."""
    if spec.model is None:
        return None, str(spec.run), str(spec.path)
    found = client.get_model_version(spec.model, spec.selector)
    if not found.get("run_id"):
        raise GittrackError(f"{spec.model} {found['version']} has no run here; pull it with 'gittrack pull'")
    return str(found["version"]), str(found["run_id"]), str(found["artifact"])


def load(client: Any, version: str | None, run_id: str, path: str) -> Loaded:
    """Fetch (if needed), verify and load the model ``path`` of run ``run_id``."""
    import inspect

    from gittrack._flavors import read_meta
    from gittrack.mlflow.pyfunc import load_model

    folder = Path(client.model_folder(f"runs:/{run_id}/{path}"))
    try:
        model = load_model(str(folder))  # environment mismatches are logged as warnings
    except GittrackError:
        raise
    except Exception as exc:  # noqa: BLE001 - a model whose code or packages are missing here
        _remove(folder)
        raise ModelError(f"cannot load the model {path} of run {run_id[:12]}: {type(exc).__name__}: {exc}") from None
    signature = read_meta(folder).get("signature")
    schema = from_signature(signature)
    if schema is None and model.metadata.signature is not None:
        schema = from_signature(model.metadata.signature.to_dict())
    takes = "params" in inspect.signature(model.predict).parameters
    full_run = client.get_run(run_id).info.run_id
    return Loaded(model, schema, version, full_run, folder, takes)


class Follower:
    """The model being served; with a stage spec (and not ``fixed``), :meth:`check` swaps in the
    version the stage holds when it changes (``start`` runs it every ``interval`` seconds)."""

    def __init__(self, repo: str | None, spec: Spec, fixed: bool = False, interval: float = 2.0) -> None:
        import gittrack

        self.client = gittrack.Client(repo)
        self.spec = spec
        self.following = spec.follows and not fixed
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failed: str | None = None
        self._old: list[Path] = []
        self.repo = repo
        self.current = load(self.client, *resolve(self.client, spec))

    def check(self) -> bool:
        """Reload if the stage now names another version; whether it switched."""
        with _repo_lock:
            return self._check()

    def _check(self) -> bool:
        try:
            version, run_id, path = resolve(self.client, self.spec)
        except GittrackError as exc:
            log.warning("gittrack: %s; still serving %s", exc, self.current.version)
            return False
        if version == self.current.version or version == self._failed:
            return False
        try:
            loaded = load(self.client, version, run_id, path)
        except Exception as exc:  # noqa: BLE001 - a broken version must not stop the server
            self._failed = version
            log.error("gittrack: cannot load %s %s (%s); still serving %s", self.spec.model, version, exc,
                      self.current.version)  # fmt: skip
            return False
        previous, self.current = self.current, loaded
        log.warning("gittrack: %s now serves %s (was %s)", self.spec.text, version, previous.version)
        self._old.append(previous.folder)
        while len(self._old) > 1:  # the one before stays: a request may still be using it
            _remove(self._old.pop(0))
        return True

    def start(self) -> None:
        """Poll in a background thread (when following)."""
        if not self.following or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._poll, name="gittrack-follower", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        watch = TagWatch(self.repo, self.spec.model or "")
        polls = 0
        while not self._stop.wait(self.interval):
            polls += 1
            if watch.changed() or polls % FULL_CHECK_EVERY == 0:
                self.check()

    def stop(self) -> None:
        """Stop polling and remove the models' temporary folders."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for folder in [*self._old, self.current.folder]:
            _remove(folder)
        self._old = []


FULL_CHECK_EVERY = 30  # polls: the registry is read in full at least this often, changes seen or not


class TagWatch:
    """Whether the registry's tags may have changed since the last call, from the modification
    times of the tag refs' folders and ``packed-refs`` (a few stat calls): reading every tag takes
    tens of milliseconds in a registry of thousands, which a server should not spend every poll.
    Where refs are not plain files (reftable), every call says yes."""

    def __init__(self, repo: str | None, model: str) -> None:
        import subprocess

        root = Path(repo or ".")
        done = subprocess.run(["git", "rev-parse", "--git-common-dir"], cwd=root, capture_output=True, text=True,
                              check=False)  # fmt: skip
        git_dir = root / done.stdout.strip() if done.returncode == 0 else None
        tags = git_dir / "refs" / "tags" if git_dir is not None else None
        prefixes = [part for part in model.split("/")[:-1] if part]  # a model named a/b has its tags in refs/tags/a
        folders = [tags / Path(*prefixes[: i + 1]) for i in range(len(prefixes))] if tags is not None else []
        self.usable = tags is not None and tags.is_dir()
        self.paths = [tags, *folders, git_dir / "packed-refs"] if git_dir is not None and tags is not None else []
        self.last: tuple[int | None, ...] | None = None

    def changed(self) -> bool:
        if not self.usable:
            return True
        stamp = tuple(_mtime(path) for path in self.paths)
        changed, self.last = stamp != self.last, stamp
        return changed


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


class Puller:
    """Pulls runs and registry tags from a remote every ``interval`` seconds in a background
    thread (``gittrack pull``), so that a follower sees stage moves made elsewhere."""

    def __init__(self, repo: str | None, remote: str | None, interval: float = 60.0) -> None:
        import gittrack

        self.client = gittrack.Client(repo)
        self.remote, self.interval = remote, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gittrack-puller", daemon=True)

    def pull(self) -> None:
        """One pull; a failure is logged, and the next one tried at the next interval."""
        try:
            with _repo_lock:
                self.client.remote.pull(self.remote)
        except GittrackError as exc:
            log.warning("gittrack: pulling from %s failed: %s", self.remote or "the default remote", exc)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.pull()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)


def _remove(folder: Path) -> None:
    """The temporary folder a model was materialised in (its parent, made by mkdtemp)."""
    parent = folder.parent
    if parent.name.startswith("gittrack-model-"):
        shutil.rmtree(parent, ignore_errors=True)
