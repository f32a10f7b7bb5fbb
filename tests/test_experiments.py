"""Experiments as entities (tags, description, lifecycle) stored as git notes, shared by push/pull."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pygit2
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gittrack
from gittrack._store import notes
from gittrack._sync import pull, push
from gittrack.errors import NotFoundError, UsageError
from tests.conftest import git


def test_create_tag_describe_and_list(repo: Path) -> None:
    client = gittrack.Client()
    created = client.create_experiment("churn", tags={"team": "ml"}, description="customer churn")
    assert created.experiment_id == "churn"
    assert created.tags == {"team": "ml"}
    assert created.description == "customer churn"
    assert created.lifecycle_stage == "active"
    client.set_experiment_tags("churn", {"owner": "ada", "team": None})
    client.set_experiment_description("churn", "churn, v2")
    again = client.get_experiment("churn")
    assert again.tags == {"owner": "ada"}
    assert again.description == "churn, v2"
    assert again.creation_time <= again.last_update_time
    with pytest.raises(UsageError, match="exists already"):
        client.create_experiment("churn")
    run = client.create_run(experiment="taxi")
    client.set_terminated(run.info.run_id)
    assert [e.name for e in client.list_experiments()] == ["churn", "taxi"]
    assert client.get_experiment("taxi").runs == 1
    with pytest.raises(NotFoundError, match="no experiment named 'nope'"):
        client.get_experiment("nope")


def test_delete_and_restore_move_the_runs(repo: Path) -> None:
    client = gittrack.Client()
    ids = [client.create_run(experiment="old").info.run_id for _ in range(2)]
    for run_id in ids:
        client.set_terminated(run_id)
    assert client.delete_experiment("old") == 2
    assert client.get_experiment("old").lifecycle_stage == "deleted"
    assert [e.name for e in client.list_experiments("deleted")] == ["old"]
    assert client.list_experiments() == []
    assert len(client.search_runs(run_view="deleted")) == 2
    with pytest.raises(UsageError, match="deleted already"):
        client.delete_experiment("old")
    assert client.restore_experiment("old") == 2
    assert client.get_experiment("old").lifecycle_stage == "active"
    assert len(client.search_runs()) == 2


def test_metadata_is_a_plain_git_note(repo: Path) -> None:
    gittrack.Client().create_experiment("churn", tags={"team": "ml"})
    listed = git(repo, "notes", "--ref=gittrack", "list").split()
    assert len(listed) == 2  # note blob, annotated blob
    shown = git(repo, "notes", "--ref=gittrack", "show", listed[1])
    assert '"k":"tag.team"' in shown


lines = st.lists(
    st.tuples(st.integers(0, 10**13), st.sampled_from(["a", "b", "tag.x"]), st.none() | st.text(max_size=5)),
    max_size=8,
)


@given(lines, lines)
def test_notes_merge_is_a_union_both_sides_agree_on(left, right) -> None:
    a = "\n".join(notes.format_event(*e) for e in left).encode()
    b = "\n".join(notes.format_event(*e) for e in right).encode()
    assert notes.merge(a, b) == notes.merge(b, a)
    assert notes.state(notes.merge(a, b)) == notes.state(notes.merge(notes.merge(a, b), a))
    assert notes.state(notes.merge(a, b))[0] == notes.state(notes.merge(b, a, b"garbage\n{]\n"))[0]


def test_malformed_note_lines_are_skipped() -> None:
    data = (
        b'{"t": 1, "k": "a", "v": "x"}\nnot json\n{"t": "1", "k": "b", "v": "y"}\n[1]\n{"t": 2, "k": "a", "v": null}\n'
    )
    assert notes.state(data) == ({}, 1, 2)


@pytest.mark.slow
def test_experiment_metadata_travels_with_push_and_pull(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    a, b = tmp_path / "a", tmp_path / "b"
    for clone in (a, b):
        subprocess.run(["git", "clone", "-q", str(remote), str(clone)], check=True, capture_output=True)
        (clone / "x.txt").write_text(clone.name)
        git(clone, "add", ".")
        git(clone, "commit", "-q", "-m", "x")
    gittrack.Client(a).create_experiment("churn", tags={"team": "ml"})
    push(pygit2.Repository(str(a)))
    gittrack.Client(b).create_experiment("taxi", description="from b")
    push(pygit2.Repository(str(b)))  # diverged notes: merged, then pushed as a fast-forward
    pull(pygit2.Repository(str(a)))
    for clone in (a, b):
        pull(pygit2.Repository(str(clone)))
        client = gittrack.Client(clone)
        assert client.get_experiment("churn").tags == {"team": "ml"}
        assert client.get_experiment("taxi").description == "from b"
