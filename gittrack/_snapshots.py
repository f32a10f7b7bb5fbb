"""The code a run recorded: the files of its snapshot and its diff against the source commit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gittrack._store.snapshot import without_run_dir
from gittrack.errors import InvalidNameError, NotFoundError

if TYPE_CHECKING:
    import pygit2

    from gittrack._entities import Run

MAX_FILE_BYTES = 10 * 1024 * 1024


def _clean(path: str) -> str:
    parts = [p for p in (path or "").strip("/").split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts) or "\\" in (path or "") or "\x00" in (path or ""):
        raise InvalidNameError(f"path {path[:60]!r} is not a path inside the run's snapshot")
    return "/".join(parts)


def _tree(repo: pygit2.Repository, run: Run) -> pygit2.Tree:
    import pygit2

    assert run.info.commit is not None  # a run read from a repository has its commit
    commit = repo[pygit2.Oid(hex=run.info.commit)].peel(pygit2.Commit)
    return repo[without_run_dir(repo, commit.tree_id)].peel(pygit2.Tree)


def list_files(repo: pygit2.Repository, run: Run, path: str = "") -> list[dict[str, Any]]:
    """The entries of folder ``path`` of the snapshot: name, path, type (file, dir, link), size."""
    import pygit2

    path = _clean(path)
    tree = _tree(repo, run)
    if path:
        try:
            found = repo[tree[path].id]
        except KeyError:
            raise NotFoundError(f"run {run.info.run_name}'s snapshot has no folder '{path}'") from None
        if not isinstance(found, pygit2.Tree):
            raise NotFoundError(f"'{path}' is a file of run {run.info.run_name}'s snapshot, not a folder")
        tree = found
    out = []
    for entry in tree:
        kind = "dir" if entry.type_str == "tree" else "link" if entry.filemode == 0o120000 else "file"
        if entry.type_str == "commit":
            kind = "submodule"
        size = repo.odb.read_header(entry.id)[1] if kind in ("file", "link") else None
        out.append({"name": entry.name, "path": f"{path}/{entry.name}" if path else entry.name, "type": kind,
                    "size": size})  # fmt: skip
    return sorted(out, key=lambda e: (e["type"] != "dir", e["name"]))


def read_file(repo: pygit2.Repository, run: Run, path: str, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The content of file ``path`` in the snapshot (at most ``max_bytes``)."""
    import pygit2

    clean = _clean(path)
    try:
        entry = _tree(repo, run)[clean]
    except KeyError:
        raise NotFoundError(f"run {run.info.run_name}'s snapshot has no file '{clean}'") from None
    blob = repo[entry.id]
    if not isinstance(blob, pygit2.Blob):
        raise NotFoundError(f"'{clean}' is a folder of run {run.info.run_name}'s snapshot, not a file")
    return blob.data[:max_bytes]


def source_diff(repo: pygit2.Repository, run: Run) -> dict[str, Any]:
    """What the snapshot changes against its source commit (uncommitted edits when it ran): the
    files with their status and line counts, and the patch. Without a source commit, every file is added."""
    import pygit2

    from gittrack._compare import file_changes

    tree = _tree(repo, run)
    source = run.info.source_commit
    if source:
        try:
            base = repo[pygit2.Oid(hex=source)].peel(pygit2.Commit).tree
        except (KeyError, ValueError):
            raise NotFoundError(f"the source commit {source[:12]} of run {run.info.run_name} is not here") from None
        changes = base.diff_to_tree(tree)
    else:
        changes = tree.diff_to_tree(swap=True)
    files = file_changes(changes)
    return {"source_commit": source, "files": [f.__dict__ for f in files], "patch": changes.patch or ""}
