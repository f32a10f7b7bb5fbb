"""The JSON API under ``/api/``: one endpoint per :class:`gittrack.Client` call the pages need.

Every handler is synchronous (starlette runs it in a worker thread) and reads the repository
through a Client of its own thread. Values from runs travel as JSON and are put on the page by
the browser as text, never as markup.
"""

from __future__ import annotations

import math
import mimetypes
import os
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from gittrack._store.naming import artifact_path
from gittrack.errors import FilterSyntaxError, GittrackError, InvalidNameError, NotFoundError, UsageError
from gittrack.ui.downsample import DEFAULT_POINTS, min_max

PAGE_LIMIT = 100
MAX_PAGE_LIMIT = 1000
MAX_COMPARE = 20
PREVIEW_BYTES = 256 * 1024
REGISTRY_SECONDS = 10.0  # how long the run -> registered versions map is kept
CSV_ROWS = 200
MAX_LISTED = 1000  # files listed of a folder artifact
MAX_VISITED = 100_000  # entries looked at to list them
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
               ".webp": "image/webp"}  # fmt: skip
TEXT_SUFFIXES = {".txt", ".log", ".md", ".py", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".sh", ".tsv", ".dvc"}


class Json(JSONResponse):
    """orjson, with NaN and infinities as null (a JSON parser accepts nothing else)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def _error(status: int, message: str, **extra: Any) -> Json:
    return Json({"error": message, **extra}, status_code=status)


def error_response(exc: GittrackError) -> Json:
    """A gittrack error as JSON: 400 for usage errors (with the position of a filter error), 404
    for what does not exist, 409 for anything else the repository refused."""
    message = str(exc)
    if isinstance(exc, FilterSyntaxError):
        found = re.search(r"at position (\d+)", message)
        return _error(400, message, position=int(found.group(1)) if found else None)
    if isinstance(exc, UsageError):
        return _error(400, message)
    if isinstance(exc, NotFoundError):
        return _error(404, message)
    return _error(409, message)


def _finite(value: Any) -> Any:
    """A metric value for tables: NaN and infinities as the strings ``nan``, ``inf``, ``-inf``."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def row_dict(row: Any) -> dict[str, Any]:
    """A search row (``Client.find_rows``) as JSON-ready data; times in epoch milliseconds."""
    return {
        "run_id": row.run_id, "run_name": row.run_name, "experiment": row.experiment, "status": row.status,
        "user": row.user, "start_time": row.start_time, "end_time": row.end_time,
        "duration": (row.end_time - row.start_time) if row.end_time is not None else None,
        "source_commit": row.source_commit, "source_branch": row.source_branch, "dirty": row.dirty,
        "parent_run_id": row.parent_run_id, "host": row.host, "ref": row.ref,
        "params": row.params, "metrics": {k: _finite(v) for k, v in row.metrics.items()}, "tags": row.tags,
    }  # fmt: skip


class Backend:
    """What the handlers share: the repository path, one Client per thread, and caches of what
    never changes (downsampled histories of ended runs, materialised artifacts)."""

    def __init__(self, repo: str | os.PathLike, allow_write: bool = False) -> None:
        import gittrack

        self.repo = gittrack.Client(repo).repo_path  # NotARepositoryError here, before serving
        self.allow_write = allow_write
        self._local = threading.local()
        self._lock = threading.Lock()
        self._series: OrderedDict[tuple, dict] = OrderedDict()
        self._artifacts_dir = Path(tempfile.mkdtemp(prefix="gittrack-ui-"))
        self._gittrack = gittrack
        self._registered: tuple[float, dict[str, list[dict[str, Any]]]] | None = None

    @property
    def client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._gittrack.Client(self.repo)
        return client

    def close(self) -> None:
        shutil.rmtree(self._artifacts_dir, ignore_errors=True)

    # -- the model versions registered from each run ------------------------------------
    def registered_from(self, run_id: str) -> list[dict[str, Any]]:
        """The model versions registered from run ``run_id``: model, version, stages, when. Reading
        the registry checks every version against the runs (a pass over every run's ref, 0.5 s in
        a repository of 100,000 runs), so the answer for all runs is kept for REGISTRY_SECONDS."""
        import time

        now = time.monotonic()
        with self._lock:
            cached = self._registered
        if cached is None or now - cached[0] > REGISTRY_SECONDS:
            found: dict[str, list[dict[str, Any]]] = {}
            client = self.client
            for model in client.list_models():
                for version in client.registry.show(model["model"])["versions"]:
                    stages = sorted(version["stages"])
                    entry = {"model": model["model"], "version": version["version"], "stages": stages,
                             "registered_at": version["registered_at"]}  # fmt: skip
                    found.setdefault(version.get("run_id") or "", []).append(entry)
            cached = (now, found)
            with self._lock:
                self._registered = cached
        return cached[1].get(run_id, [])

    # -- metric histories ----------------------------------------------------------------
    def series(self, run_id: str, key: str, points: int | None) -> dict[str, Any]:
        """One metric's history, downsampled to ``points`` (None: every point)."""
        run = self.client.get_run(run_id)
        cache_key = (run.info.commit, key, points)
        with self._lock:
            hit = self._series.get(cache_key)
            if hit is not None:
                self._series.move_to_end(cache_key)
                return hit
        steps, times, values = self.client.get_metric_arrays(run.info.run_id, key)
        if not len(values) and key not in run.data.metrics:
            raise NotFoundError(f"run {run.info.run_name} has no metric {key!r}")
        data = min_max(steps, times, values, points or len(values) + 1)
        data["key"] = key
        if run.info.status != "RUNNING":  # an ended run's commit never changes
            with self._lock:
                self._series[cache_key] = data
                while len(self._series) > 256:
                    self._series.popitem(last=False)
        return data

    # -- artifacts ------------------------------------------------------------------------
    def artifact_file(self, run_id: str, path: str) -> tuple[Path, dict]:
        """A file of a run's artifacts on disk (materialised from the DVC cache on first use) and
        its artifact entry; nothing outside the run's artifacts can be named."""
        run = self.client.get_run(run_id)
        try:
            path = artifact_path(None, path or "")
        except InvalidNameError:
            raise NotFoundError(f"run {run.info.run_name} has no artifact '{str(path)[:60]}'") from None
        entries = sorted(self.client.list_artifacts(run.info.run_id), key=lambda a: -len(str(a.get("path", ""))))
        entry = next((a for a in entries if path == a.get("path") or path.startswith(f"{a.get('path')}/")), None)
        if entry is None or not isinstance(entry.get("md5"), str) or not re.fullmatch(r"[0-9a-f]{32}(\.dir)?",
                                                                                        entry["md5"]):  # fmt: skip
            raise NotFoundError(f"run {run.info.run_name} has no artifact '{path[:60]}'")
        root = self._artifacts_dir / run.info.run_id / entry["md5"]
        if not root.exists():
            staging = Path(tempfile.mkdtemp(dir=self._artifacts_dir))
            self.client.download_artifacts(run.info.run_id, entry["path"], staging)
            root.parent.mkdir(parents=True, exist_ok=True)
            try:
                staging.rename(root)
            except OSError:  # another request materialised it meanwhile
                shutil.rmtree(staging, ignore_errors=True)
        # the entry's path is a checked relative name (the record reader refuses others); still,
        # serve only what resolves, symlinks followed, inside this artifact's materialised folder
        base = (root / entry["path"]).resolve()
        target = (root / path).resolve()
        if not base.is_relative_to(root.resolve()) or not target.is_relative_to(base):
            raise NotFoundError(f"run {run.info.run_name} has no artifact '{path[:60]}'")
        if not target.exists():
            raise NotFoundError(f"run {run.info.run_name} has no artifact file '{path[:60]}'")
        return target, entry


# -- handlers ---------------------------------------------------------------------------------
def _backend(request: Request) -> Backend:
    return request.app.state.backend


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{name} must be an integer, got {text[:20]!r}") from None
    return max(low, min(high, value))


def experiments(request: Request) -> Json:
    return Json({"experiments": _backend(request).client.experiment_names()})


def _search_args(request: Request) -> tuple:
    query = request.query_params
    exps = [e for e in query.getlist("experiment") if e] or None
    order = [o for o in query.getlist("order") if o.strip()] or None
    view = query.get("view") or "active"
    return exps, query.get("filter") or "", order, view


def runs(request: Request) -> Json:
    """``Client.find_rows`` a page at a time: ``offset``/``limit`` (at most 1,000), and whether more follow."""
    exps, filter_string, order, view = _search_args(request)
    offset = _int(request, "offset", 0, 0, 10_000_000)
    limit = _int(request, "limit", PAGE_LIMIT, 1, MAX_PAGE_LIMIT)
    result = _backend(request).client.find_rows(exps, filter_string, order, limit + 1, view, offset=offset)
    rows = result.rows[:limit]
    return Json({"runs": [row_dict(r) for r in rows], "offset": offset, "limit": limit,
                 "more": len(result.rows) > limit, "problems": result.problems[:20]})  # fmt: skip


def runs_count(request: Request) -> Json:
    exps, filter_string, _, view = _search_args(request)
    return Json({"count": _backend(request).client.count_runs(exps, filter_string, view)})


def run(request: Request) -> Json:
    client = _backend(request).client
    found = client.get_run(request.path_params["run_id"])
    data = found.to_dict(details=True)
    data["metrics"] = {k: _finite(v) for k, v in data["metrics"].items()}
    summaries = {}
    for key, m in found.details.metrics.items():
        summaries[key] = {"last": _finite(m.value), "step": m.step, "count": m.count, "min": _finite(m.min),
                          "max": _finite(m.max)}  # fmt: skip
    data["metric_summaries"] = summaries
    data["start_ms"], data["end_ms"] = found.info.start_time, found.info.end_time
    data["description"] = found.data.tags.get("mlflow.note.content", "")
    data["logs_text"] = {name: client.get_log(found.info.run_id, name) for name in ("stdout", "stderr")}
    return Json(data)


def registered(request: Request) -> Json:
    """The model versions registered from the run (asked for by the page after the run itself)."""
    backend = _backend(request)
    run_id = backend.client.get_run(request.path_params["run_id"]).info.run_id
    return Json({"registered": backend.registered_from(run_id)})


def metric(request: Request) -> Json:
    """A metric history: downsampled to ``points`` (default 2,000) or every point with ``points=all``."""
    key = request.query_params.get("key", "")
    text = request.query_params.get("points", "")
    points = None if text == "all" else _int(request, "points", DEFAULT_POINTS, 4, 1_000_000)
    return Json(_backend(request).series(request.path_params["run_id"], key, points))


def artifacts(request: Request) -> Json:
    """The run's artifacts; with ``path`` naming a folder artifact, the files inside it."""
    backend = _backend(request)
    run_id = request.path_params["run_id"]
    path = request.query_params.get("path")
    if not path:
        return Json({"artifacts": backend.client.list_artifacts(run_id)})
    target, _ = backend.artifact_file(run_id, path)
    if not target.is_dir():
        raise UsageError(f"'{path[:60]}' is a file; preview it instead")
    return Json({"files": _listing(target, path.strip("/"))})


def _listing(folder: Path, prefix: str) -> list[dict[str, Any]]:
    """The files of a materialised folder artifact, sorted: at most ``MAX_LISTED`` files out of at
    most ``MAX_VISITED`` entries looked at; symlinks are neither listed nor followed."""
    files: list[dict[str, Any]] = []
    visited = 0
    for parent, folders, names in os.walk(folder, followlinks=False):
        if len(files) >= MAX_LISTED or visited >= MAX_VISITED:
            break
        folders.sort()
        for name in sorted(names):
            visited += 1
            child = Path(parent, name)
            if not child.is_symlink() and child.is_file():
                files.append({"path": f"{prefix}/{child.relative_to(folder).as_posix()}", "size": child.stat().st_size})
            if len(files) >= MAX_LISTED or visited >= MAX_VISITED:
                break
        visited += len(folders)
    return sorted(files, key=lambda f: f["path"])


def _kind(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in IMAGE_TYPES:
        return "image"
    if suffix == ".csv":
        return "csv"
    if suffix == ".json":
        return "json"
    if name.endswith(("model.yaml", "MLmodel")):
        return "model"
    if suffix in TEXT_SUFFIXES or not suffix:
        return "text"
    return "binary"


def artifact_preview(request: Request) -> Json:
    """What the page shows of one artifact file: text, a CSV as rows, JSON, the model's
    ``model.yaml``, or for an image only its kind (the page loads it from the raw URL)."""
    path = request.query_params.get("path", "")
    target, entry = _backend(request).artifact_file(request.path_params["run_id"], path)
    if target.is_dir():
        raise UsageError(f"'{path[:60]}' is a folder artifact; list its files")
    size = target.stat().st_size
    kind = _kind(target.name)
    out: dict[str, Any] = {"path": path, "kind": kind, "size": size, "md5": entry.get("md5")}
    if kind in ("image", "binary"):
        return Json(out)
    with target.open("rb") as handle:
        data = handle.read(PREVIEW_BYTES)
    text = data.decode("utf-8", "replace")
    out["truncated"] = size > PREVIEW_BYTES
    if "\x00" in text:
        out["kind"] = "binary"
    elif kind == "csv":
        import csv
        import io

        out["rows"] = [row for _, row in zip(range(CSV_ROWS + 1), csv.reader(io.StringIO(text)), strict=False)]
    elif kind == "json":
        try:
            out["json"] = orjson.loads(data)
        except orjson.JSONDecodeError:
            out["kind"] = "text"
    out["text"] = text
    return Json(out)


def artifact_raw(request: Request) -> Response:
    """The bytes of one artifact file: images inline, everything else as a download; never
    rendered as a page (sandboxed, no sniffing)."""
    path = request.query_params.get("path", "")
    target, _ = _backend(request).artifact_file(request.path_params["run_id"], path)
    if target.is_dir():
        raise UsageError(f"'{path[:60]}' is a folder artifact; download its files one by one")
    media = IMAGE_TYPES.get(target.suffix.lower())
    inline = media is not None and request.query_params.get("download") is None
    headers = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}
    return FileResponse(target, media_type=media or mimetypes.guess_type(target.name)[0] or "application/octet-stream",
                        filename=target.name, content_disposition_type="inline" if inline else "attachment",
                        headers=headers)  # fmt: skip


def files(request: Request) -> Json:
    run_id = request.path_params["run_id"]
    return Json({"files": _backend(request).client.list_run_files(run_id, request.query_params.get("path", ""))})


def file(request: Request) -> Json:
    path = request.query_params.get("path", "")
    data = _backend(request).client.read_run_file(request.path_params["run_id"], path, PREVIEW_BYTES + 1)
    text = data[:PREVIEW_BYTES].decode("utf-8", "replace")
    return Json({"path": path, "text": None if "\x00" in text else text, "truncated": len(data) > PREVIEW_BYTES})


def source_diff(request: Request) -> Json:
    return Json(_backend(request).client.diff_run_source(request.path_params["run_id"]))


def _run_list(request: Request) -> list[str]:
    ids = [r for r in request.query_params.get("runs", "").split(",") if r]
    if not 2 <= len(ids) <= MAX_COMPARE:
        raise UsageError(f"compare takes 2 to {MAX_COMPARE} runs, got {len(ids)}")
    return ids


def compare(request: Request) -> Json:
    client = _backend(request).client
    found = [client.get_run(r) for r in _run_list(request)]
    result = client.compare_runs([r.info.run_id for r in found]).to_dict()
    result["metrics"] = {k: [_finite(v) for v in values] for k, values in result["metrics"].items()}
    result["runs"] = [{"run_id": r.info.run_id, "run_name": r.info.run_name, "experiment": r.info.experiment,
                       "status": r.info.status} for r in found]  # fmt: skip
    return Json(result)


def diff(request: Request) -> Json:
    a, b = request.query_params.get("a", ""), request.query_params.get("b", "")
    result = _backend(request).client.diff_runs(a, b).to_dict(with_patch=True)
    result["metrics"] = {k: [_finite(v) for v in values] for k, values in result["metrics"].items()}
    return Json(result)


def models(request: Request) -> Json:
    return Json({"models": _backend(request).client.list_models()})


def model(request: Request) -> Json:
    client = _backend(request).client
    name = request.path_params["name"]
    return Json({"model": client.registry.show(name), "history": client.registry.history(name)})


def lineage(request: Request) -> Json:
    return Json(_backend(request).client.registry.lineage(request.query_params.get("spec", "")))


def promotions(request: Request) -> Json:
    from gittrack.ui.markdown import to_html

    found = _backend(request).client.list_promotion_requests()
    for item in found:
        item["report_html"] = to_html(item["report"]) if item["report"] else None
    return Json({"requests": found})


# -- writing (only with --allow-write; the app reads the body into request.state.body) --------
def _body(request: Request) -> dict[str, Any]:
    try:
        data = orjson.loads(request.state.body or b"{}")
    except orjson.JSONDecodeError:
        raise UsageError("the request body is not JSON") from None
    if not isinstance(data, dict):
        raise UsageError("the request body must be a JSON object")
    return data


def delete_run(request: Request) -> Json:
    client = _backend(request).client
    deleted = client.delete_runs([request.path_params["run_id"]])
    return Json({"deleted": [run.info.run_id for run, _ in deleted]})


def restore_run(request: Request) -> Json:
    restored = _backend(request).client.restore_run(request.path_params["run_id"])
    return Json({"restored": restored.info.run_id})


def edit_run(request: Request) -> Json:
    """Rename a run, set its tags (a null value removes one) or its description (MLflow's
    ``mlflow.note.content`` tag; empty removes it). A RUNNING run takes them through its writer
    (its own process keeps them at its next checkpoint); an ended one keeps them as edits beside
    its unchanged commit (docs/tracking.md)."""
    body = _body(request)
    tags = body.get("tags") or {}
    if not isinstance(tags, dict):
        raise UsageError("tags must be an object of names to values")
    name = str(body["name"]) if body.get("name") else None
    edited = _backend(request).client.edit_run(request.path_params["run_id"], tags, name, body.get("description", ...))
    return Json({"run": row_id(edited)})


def row_id(run: Any) -> dict[str, Any]:
    return {"run_id": run.info.run_id, "run_name": run.info.run_name, "tags": run.data.tags}


ROUTES = [
    Route("/api/experiments", experiments),
    Route("/api/runs", runs),
    Route("/api/runs/count", runs_count),
    Route("/api/runs/{run_id}", run),
    Route("/api/runs/{run_id}/metric", metric),
    Route("/api/runs/{run_id}/models", registered),
    Route("/api/runs/{run_id}/artifacts", artifacts),
    Route("/api/runs/{run_id}/artifact", artifact_preview),
    Route("/api/runs/{run_id}/artifact/raw", artifact_raw),
    Route("/api/runs/{run_id}/files", files),
    Route("/api/runs/{run_id}/file", file),
    Route("/api/runs/{run_id}/source-diff", source_diff),
    Route("/api/compare", compare),
    Route("/api/diff", diff),
    Route("/api/models", models),
    Route("/api/models/{name:path}", model),
    Route("/api/lineage", lineage),
    Route("/api/promotions", promotions),
]
WRITE_ROUTES = [
    Route("/api/runs/{run_id}/delete", delete_run, methods=["POST"]),
    Route("/api/runs/{run_id}/restore", restore_run, methods=["POST"]),
    Route("/api/runs/{run_id}/edit", edit_run, methods=["POST"]),
]
