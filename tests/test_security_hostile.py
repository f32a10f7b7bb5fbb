"""Hostile snapshots, generated: whatever a run commit's tree holds (symlinks anywhere, ``dvc.yaml``
templates, ``..``, absolute paths, DVC configs and links in ``.dvc/``), checkout and reproduce
never write outside the repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pygit2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gittrack
from gittrack._data import dvcstore
from gittrack._store.trees import apply_changes
from tests.conftest import BIN, git

pytestmark = pytest.mark.slow
BLOB, LINK = pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_LINK
LINK_PLACES = ["conf", "a/conf", "data", ".gittrack/run/artifacts/l", ".dvc/cache", ".dvc/tmp", ".dvc"]
TARGETS = ["conf/k", "a/conf/k", "data/k", "ok/k", "../canary/k", "{canary}/k", ".gittrack/run/artifacts/l/k",
           "a/../../canary/k", "conf", ".dvc/cache/k", ".git/hooks/k"]  # fmt: skip
WDIRS = [".", "conf", "..", "${w}", "${item}", "a/conf", "{canary}"]
CONFIGS = [
    None,
    "[cache]\n    dir = {canary}\n",
    '[cache]\n    "dir" = {canary}\n',
    "[cache]\n    local = c\n['remote \"c\"']\n    url = {canary}\n",
    "[core]\n    site_cache_dir = {canary}\n",
    "[core]\n    remote = r\n['remote \"r\"']\n    url = {canary}\n",
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A repository with DVC, one real run of a script that logged an artifact (its object in the
    cache, so a refused write is the only thing between it and the canary), and a canary folder."""
    tmp = tmp_path_factory.mktemp("hostile")
    canary = tmp / "canary"
    canary.mkdir()
    (canary / "keep.txt").write_text("canary\n")
    root = tmp / "victim"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "noop.py").write_text("import gittrack\nfrom pathlib import Path\nPath('p.txt').write_text('payload')\n"
                                  "gittrack.log_artifact('p.txt')\ngittrack.log_metric('m', 1)\n")  # fmt: skip
    (root / ".gitignore").write_text("p.txt\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "noop")
    subprocess.run([str(BIN / "gittrack"), "init", "--commit"], cwd=root, check=True, capture_output=True)
    subprocess.run([str(BIN / "gittrack"), "run", "-n", "base", "--", sys.executable, "noop.py"], cwd=root,
                   check=True, capture_output=True)  # fmt: skip
    repo = pygit2.Repository(str(root))
    run = gittrack.Client(root).get_run("base")
    pointer = repo[run.info.commit].peel(pygit2.Commit).tree[".gittrack/run/artifacts/p.txt.dvc"]
    md5 = repo[pointer.id].data.decode().split("md5:")[1].split()[0].strip("\"'")
    return {"root": root, "canary": canary, "run": run, "md5": md5}


def _canary_state(canary: Path) -> list[tuple[str, bytes]]:
    return sorted((str(p.relative_to(canary)), p.read_bytes() if p.is_file() else b"") for p in canary.rglob("*"))


@st.composite
def hostile(draw) -> dict[str, tuple[str, int]]:
    """Files of a hostile snapshot: path -> (content, mode), with ``{canary}`` and ``{md5}`` to fill."""
    files: dict[str, tuple[str, int]] = {}
    for place in draw(st.lists(st.sampled_from(LINK_PLACES), max_size=3, unique=True)):
        files[place] = ("{canary}", LINK)
    for i, target in enumerate(draw(st.lists(st.sampled_from(TARGETS), min_size=1, max_size=3))):
        wdir = draw(st.sampled_from(WDIRS))
        pointer = f"outs:\n- md5: {{md5}}\n  size: 7\n  hash: md5\n  path: {target}\n"
        files[draw(st.sampled_from(["", "a/", "conf/"])) + f"x{i}.dvc"] = (f"wdir: {wdir}\n" + pointer, BLOB)
    if draw(st.booleans()):
        place = draw(st.sampled_from(["conf", "a/conf", "data", "{canary}"]))
        out = draw(st.sampled_from(["k", "../k", "conf/k"]))
        wdir = draw(st.sampled_from(WDIRS))
        header = draw(st.sampled_from([f"vars:\n- w: {place}\n", ""]))
        stage = (f"  s:\n    foreach: [{place}]\n    do:\n      cmd: x\n      wdir: {wdir}\n      outs: [{out}]\n"
                 if draw(st.booleans()) else f"  s:\n    cmd: x\n    wdir: {wdir}\n    outs: [{out}]\n")  # fmt: skip
        files["dvc.yaml"] = (header + "stages:\n" + stage, BLOB)
        name = "s@" + place if "foreach" in stage else "s"
        files["dvc.lock"] = (f"schema: '2.0'\nstages:\n  {name}:\n    cmd: x\n    outs:\n    - path: {out}\n"
                             "      hash: md5\n      md5: {md5}\n", BLOB)  # fmt: skip
        if draw(st.booleans()):
            files["params.yaml"] = (f"w: {place}\n", BLOB)
    config = draw(st.sampled_from(CONFIGS))
    if config is not None and ".dvc" not in files:
        files[".dvc/config"] = (config, BLOB)
    return files


def _forge(project: dict, files: dict[str, tuple[str, int]]) -> None:
    """Move the run's ref to a commit like it whose tree also holds ``files`` (as plain git could)."""
    repo = pygit2.Repository(str(project["root"]))
    run = project["run"]
    commit = repo[run.info.commit].peel(pygit2.Commit)
    fill = {"canary": str(project["canary"]), "md5": project["md5"]}
    blobs = {path.format(**fill): (repo.create_blob(text.replace("{canary}", fill["canary"])
                                                    .replace("{md5}", fill["md5"]).encode()), mode)
             for path, (text, mode) in files.items()}  # fmt: skip
    try:
        tree = apply_changes(repo, commit.tree_id, blobs)
    except (ValueError, pygit2.GitError, KeyError):
        return  # a link where a folder must be: git could not build it either
    who = pygit2.Signature("Mallory", "m@example.com")
    forged = repo.create_commit(None, who, who, "forged", tree, list(commit.parent_ids))
    repo.references.create(f"refs/runs/{run.info.experiment}/{run.info.run_id}", forged, force=True)


def _reset(root: Path, original: str, run) -> None:
    git(root, "checkout", "-q", "-f", "main")
    git(root, "clean", "-q", "-fd")
    git(root, "update-ref", f"refs/runs/{run.info.experiment}/{run.info.run_id}", original)
    for branch in git(root, "branch", "--list", "gittrack-reproduce-*").split():
        git(root, "branch", "-q", "-D", branch)
    dvcstore.open_dvc.cache_clear()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=hostile(), reproduce=st.booleans())
def test_hostile_snapshots_never_write_outside_the_repository(project, files, reproduce) -> None:
    root, canary, run = project["root"], project["canary"], project["run"]
    before = _canary_state(canary)
    _forge(project, files)
    client = gittrack.Client(root)
    try:
        if reproduce:
            client.reproduce(run.info.run_id, approve=lambda plan: True)
        else:
            client.checkout(run.info.run_id, force=True)
    except gittrack.GittrackError:
        pass  # refusing is fine; writing outside is not
    finally:
        _reset(root, run.info.commit, run)
    assert _canary_state(canary) == before


PARTS = ["a", "conf", "..", ".", "", "data", ".git", ".dvc", "k"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    links=st.lists(st.sampled_from(["conf", "a/conf", "data", "k", "a/k"]), max_size=3, unique=True),
    paths=st.lists(st.lists(st.sampled_from(PARTS), min_size=1, max_size=4).map("/".join), min_size=1, max_size=4),
)
def test_the_guarded_writer_never_follows_a_link_on_disk(project, links, paths) -> None:
    """Even past the resolver (links made on disk after the check, any path), the one writer of
    restored data writes inside the work tree or refuses."""
    from gittrack._data import restore
    from gittrack._data.dvcstore import DataEntry
    from gittrack._data.outputs import Output

    root, canary = project["root"], project["canary"]
    before = _canary_state(canary)
    made = []
    for link in links:
        place = root / link
        if not place.parent.exists():
            place.parent.mkdir(parents=True)
            made.append(place.parent)
        if not place.exists() and not place.is_symlink():
            place.symlink_to(canary)
            made.append(place)
    dvc = dvcstore.open_dvc(str(root))
    entry = DataEntry(project["md5"], 7, None)
    try:
        restore.write(dvc, root, [Output(path, entry, "x.dvc") for path in paths])
    except gittrack.GittrackError:
        pass
    finally:
        _reset(root, project["run"].info.commit, project["run"])
        for place in reversed(made):
            if place.is_symlink():
                place.unlink()
        git(root, "clean", "-q", "-fd")
    assert _canary_state(canary) == before
