"""The artifact proxy (``/api/2.0/mlflow-artifacts/artifacts/...``, as ``mlflow server
--serve-artifacts``): a run's artifact location is ``mlflow-artifacts:/runs/<run id>/artifacts``,
and what the client uploads there is logged as the run's artifact (content in DVC, a ``.dvc``
pointer in the run commit), what it downloads comes from the DVC cache or remote."""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gittrack.server import models
from gittrack.server.backend import Backend
from gittrack.server.errors import ServerError
from gittrack.server.request import Args
from gittrack.server.routes import Endpoint

if TYPE_CHECKING:
    from gittrack.server.auth import Auth

PREFIX = "/api/2.0/mlflow-artifacts/artifacts"
MAX_UPLOAD = 2 << 30


def split(path: str) -> tuple[str, str, str]:
    """``runs/<run id>/artifacts/<rel>`` or ``models/<model id>/artifacts/<rel>`` -> (kind, id, rel)."""
    clean = posixpath.normpath("/" + (path or "")).lstrip("/")
    parts = clean.split("/")
    if len(parts) < 3 or parts[0] not in ("runs", "models") or parts[2] != "artifacts" or ".." in parts:
        where = "runs/<run id>/artifacts/ or models/<model id>/artifacts/"
        raise ServerError(f"artifact path {path!r} is not under {where}", "RESOURCE_DOES_NOT_EXIST")
    return parts[0], parts[1], "/".join(parts[3:])


def run_of(b: Backend, kind: str, ident: str) -> str:
    """The run whose permissions cover an artifact path."""
    return ident if kind == "runs" else ident.split("-")[1] if ident.count("-") >= 2 else ident


def upload(b: Backend, kind: str, ident: str, rel: str, body_file: str) -> None:
    if not rel:
        raise ServerError("give the artifact's file name after artifacts/")
    if kind == "models":
        staged, _, _ = models.file_target(b, ident, rel)
        if staged is None:
            raise ServerError(f"logged model {ident} is finalized; its files are part of its run", "INVALID_STATE")
        target = os.path.join(staged, *rel.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.move(body_file, target)
        return
    folder, _, name = rel.rpartition("/")
    with tempfile.TemporaryDirectory(prefix="gittrack-server-") as tmp:
        local = os.path.join(tmp, name)
        shutil.move(body_file, local)
        b.mlflow.log_artifact(ident, local, folder or None)
    b.written(ident)


def download(b: Backend, kind: str, ident: str, rel: str) -> bytes:
    run_id = ident
    if kind == "models":
        staged, run_id, in_run = models.file_target(b, ident, rel)
        if staged is not None:
            with open(os.path.join(staged, *rel.split("/")), "rb") as handle:
                return handle.read()
        rel = in_run
    with tempfile.TemporaryDirectory(prefix="gittrack-server-") as tmp:
        local = b.mlflow.download_artifacts(run_id, rel, tmp)
        if os.path.isdir(local):
            raise ServerError(f"{rel!r} is a folder: list it", "INVALID_PARAMETER_VALUE")
        with open(local, "rb") as handle:
            return handle.read()


def listing(b: Backend, kind: str, ident: str, rel: str) -> list[dict[str, Any]]:
    run_id = ident
    if kind == "models":
        staged, run_id, in_run = models.file_target(b, ident, rel)
        if staged is not None:
            return _local_listing(os.path.join(staged, *[p for p in rel.split("/") if p]))
        rel = in_run
    elif rel and _inside_model(b, run_id, rel):
        return []  # MLflow's client lists a model's files from the model's own location and adds these
    files = []
    for info in b.mlflow.list_artifacts(run_id, rel or None):
        entry: dict[str, Any] = {"path": posixpath.basename(info.path), "is_dir": bool(info.is_dir)}
        if info.file_size is not None and not info.is_dir:
            entry["file_size"] = info.file_size
        files.append(entry)
    return files


def _inside_model(b: Backend, run_id: str, rel: str) -> bool:
    """Whether ``rel`` is a model the run logged, or inside one (a logged model's files)."""
    models_here = [a["path"] for a in b.client.get_run(run_id).details.artifacts if a.get("kind") == "model"]
    return any(rel == m or rel.startswith(m + "/") for m in models_here)


def _local_listing(folder: str) -> list[dict[str, Any]]:
    if not os.path.isdir(folder):
        return []
    found = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        item: dict[str, Any] = {"path": entry.name, "is_dir": entry.is_dir()}
        if not entry.is_dir():
            item["file_size"] = entry.stat().st_size
        found.append(item)
    return found


def routes(backend: Backend, auth: Auth | None, error_response: Callable[[BaseException], Response]) -> list[Route]:
    """The proxy's routes: upload (PUT), download (GET), list (GET without a path), delete (refused)."""

    def allowed(request: Request, run_id: str, level: str) -> None:
        if auth is not None:
            user = auth.user_of(request)
            auth.check(backend, user, Endpoint(request.method, PREFIX, _none, "run", level), Args({"run_id": run_id}))

    async def put(request: Request) -> Response:
        try:
            kind, ident, rel = split(request.path_params["path"])
            with backend.lock:
                allowed(request, run_of(backend, kind, ident), "EDIT")
            with tempfile.NamedTemporaryFile(prefix="gittrack-upload-", delete=False) as handle:
                size = 0
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > MAX_UPLOAD:
                        raise ServerError(f"uploads are limited to {MAX_UPLOAD} bytes")
                    handle.write(chunk)

            def store() -> None:
                try:
                    with backend.lock:
                        upload(backend, kind, ident, rel, handle.name)
                finally:
                    if os.path.exists(handle.name):
                        os.unlink(handle.name)

            await run_in_threadpool(store)
            return JSONResponse({})
        except Exception as exc:  # noqa: BLE001 - answered in MLflow's shape
            return error_response(exc)

    async def get(request: Request) -> Response:
        try:
            kind, ident, rel = split(request.path_params["path"])

            def read() -> bytes:
                with backend.lock:
                    allowed(request, run_of(backend, kind, ident), "READ")
                    return download(backend, kind, ident, rel)

            return Response(await run_in_threadpool(read), media_type="application/octet-stream")
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)

    async def list_(request: Request) -> Response:
        try:
            path = request.query_params.get("path", "")
            if path.strip("/") in ("", "runs", "models"):
                return JSONResponse({})
            parts = path.strip("/").split("/")
            if len(parts) == 2:  # runs/<run id>: its one folder
                return JSONResponse({"files": [{"path": "artifacts", "is_dir": True}]})
            kind, ident, rel = split(path)

            def read() -> list[dict[str, Any]]:
                with backend.lock:
                    allowed(request, run_of(backend, kind, ident), "READ")
                    return listing(backend, kind, ident, rel)

            files = await run_in_threadpool(read)
            return JSONResponse({"files": files} if files else {})
        except Exception as exc:  # noqa: BLE001
            return error_response(exc)

    async def delete(request: Request) -> Response:
        return error_response(ServerError("artifacts are part of their run's commit and are not deleted",
                                          "INVALID_PARAMETER_VALUE"))  # fmt: skip

    return [
        Route(PREFIX, list_, methods=["GET"]),
        Route(PREFIX + "/{path:path}", put, methods=["PUT"]),
        Route(PREFIX + "/{path:path}", get, methods=["GET"]),
        Route(PREFIX + "/{path:path}", delete, methods=["DELETE"]),
    ]


def _none(b: Backend, a: Args) -> dict:
    return {}
