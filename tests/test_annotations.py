"""Editing ended runs: tags and the name as a note on the run's commit, shown everywhere a run is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import gittrack
from gittrack._store import annotations, notes
from tests.conftest import git


def ended_run(client: gittrack.Client, name: str = "base", experiment: str = "exp", **tags: str) -> str:
    run = client.create_run(experiment=experiment, run_name=name, params={"lr": 0.1}, tags=tags)
    client.log_metric(run.info.run_id, "acc", 0.9)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def test_an_ended_run_takes_tags_and_a_name_and_its_commit_stays(repo: Path) -> None:
    client = gittrack.Client()
    run_id = ended_run(client, stage="draft", old="x")
    before = client.get_run(run_id)
    client.set_tag(run_id, "reviewed", "yes")
    client.set_tags(run_id, {"stage": "final", "score": 3})
    client.delete_tag(run_id, "old")
    client.rename_run(run_id, "best-so-far")
    run = client.get_run(run_id)
    assert run.info.commit == before.info.commit
    assert git(repo, "rev-parse", before.info.ref).strip() == before.info.commit
    assert run.info.run_name == "best-so-far"
    assert run.data.tags == {"stage": "final", "reviewed": "yes", "score": "3"}
    assert run.to_dict()["tags"] == run.data.tags
    assert run.to_dict()["run_name"] == "best-so-far"
    assert run.data.params == {"lr": "0.1"}
    assert run.info.status == "FINISHED"
    assert client.get_run("best-so-far").info.run_id == run_id  # found by its new name
    shown = git(repo, "notes", "--ref=gittrack", "show", before.info.commit)
    assert '"k":"tag:reviewed"' in shown
    assert '"k":"name"' in shown


def test_searches_see_the_edits_and_notice_every_change(repo: Path) -> None:
    client = gittrack.Client()
    run_id = ended_run(client)
    other = ended_run(client, "other")
    assert client.find_rows(filter_string="tags.reviewed = 'yes'").rows == []  # the cache exists now
    client.set_tag(run_id, "reviewed", "yes")
    found = client.find_rows(filter_string="tags.reviewed = 'yes'").rows
    assert [r.run_id for r in found] == [run_id]
    client.rename_run(run_id, "zz-renamed")
    rows = client.find_rows(filter_string="attributes.run_name = 'zz-renamed'").rows
    assert [(r.run_id, r.tags) for r in rows] == [(run_id, {"reviewed": "yes"})]
    ordered = client.find_rows(order_by=["attributes.run_name DESC"]).rows
    assert [r.run_name for r in ordered] == ["zz-renamed", "other"]
    frame = client.search_runs(filter_string="tags.reviewed = 'yes'")
    assert list(frame["run_name"]) == ["zz-renamed"]
    assert client.search_runs(output_format="list", filter_string="tags.reviewed = 'yes'")[0].info.run_name == (
        "zz-renamed"
    )
    client.delete_tag(run_id, "reviewed")
    assert client.find_rows(filter_string="tags.reviewed = 'yes'").rows == []
    assert {r.run_id: r.tags for r in client.find_rows().rows} == {run_id: {}, other: {}}
    table = client.runs_table(columns=["run_name"])
    assert table.records()[-1]["run_name"] == "zz-renamed"
    compared = client.compare_runs([run_id, other])
    assert "zz-renamed" in str(compared)


def test_search_without_the_cache_agrees(repo: Path) -> None:
    from gittrack._search.service import find_rows

    client = gittrack.Client()
    run_id = ended_run(client)
    client.set_tag(run_id, "reviewed", "yes")
    client.rename_run(run_id, "renamed")
    repo_ = client.repository.git
    for use_index in (True, False):
        rows = find_rows(repo_, filter_string="tags.reviewed = 'yes'", use_index=use_index).rows
        assert [(r.run_name, r.tags) for r in rows] == [("renamed", {"reviewed": "yes"})]


def test_a_cache_whose_old_notes_are_gone_rebuilds_the_edits(repo: Path) -> None:
    client = gittrack.Client()
    run_id = ended_run(client)
    client.set_tag(run_id, "reviewed", "yes")
    assert len(client.find_rows(filter_string="tags.reviewed = 'yes'").rows) == 1
    git(repo, "update-ref", "-d", notes.NOTES_REF)  # every edit dropped at once
    assert client.find_rows(filter_string="tags.reviewed = 'yes'").rows == []
    assert client.find_rows().rows[0].run_name == "base"
    client.set_tag(run_id, "reviewed", "again")
    assert client.find_rows().rows[0].tags == {"reviewed": "again"}


def test_a_running_run_is_edited_through_its_writer(repo: Path) -> None:
    client = gittrack.Client()
    run = client.create_run(run_name="live")
    client.set_tag(run.info.run_id, "k", "v")
    client.rename_run(run.info.run_id, "still-live")
    client.flush(run.info.run_id)
    commit = client.get_run(run.info.run_id).info.commit
    assert annotations.read(client.repository.git, commit).tags == {}  # no note: the record has them
    assert git(repo, "show", f"{commit}:.gittrack/run/run.yaml").count("still-live") == 1
    client.set_terminated(run.info.run_id)


def test_mlflow_run_name_tag_renames_and_system_tags_are_refused(repo: Path) -> None:
    client = gittrack.Client()
    run_id = ended_run(client)
    client.set_tag(run_id, "mlflow.runName", "via-tag")
    run = client.get_run(run_id)
    assert run.info.run_name == "via-tag"
    assert "mlflow.runName" not in run.data.tags
    for key in ("mlflow.user", "gittrack.anything"):
        with pytest.raises(gittrack.InvalidValueError, match="recorded by gittrack itself"):
            client.set_tag(run_id, key, "x")
    with pytest.raises(gittrack.InvalidNameError):
        client.set_tag(run_id, "bad key!", "x")
    with pytest.raises(gittrack.InvalidValueError, match="run name"):
        client.rename_run(run_id, "two\nlines")
    with pytest.raises(gittrack.InvalidValueError, match="over the 8000 limit"):
        client.set_tag(run_id, "big", "x" * 8001)


def test_packed_runs_keep_their_edits_and_take_new_ones(repo: Path) -> None:
    client = gittrack.Client()
    run_id = ended_run(client)
    client.set_tag(run_id, "before", "pack")
    client.pack_runs()
    assert client.get_run(run_id).data.tags == {"before": "pack"}
    client.set_tag(run_id, "after", "pack")
    client.rename_run(run_id, "packed-and-renamed")
    assert client.find_rows(filter_string="tags.after = 'pack'").rows[0].run_name == "packed-and-renamed"
    assert client.get_run(run_id).data.tags == {"before": "pack", "after": "pack"}


def test_deleted_runs_keep_their_edits_and_refuse_new_ones(repo: Path) -> None:
    client = gittrack.Client()
    run_id = ended_run(client)
    client.set_tag(run_id, "reviewed", "yes")
    client.delete_runs([run_id])
    deleted = client.find_rows(run_view="deleted").rows
    assert deleted[0].tags == {"reviewed": "yes"}
    with pytest.raises(gittrack.NotFoundError, match=r"is deleted .*gittrack runs restore"):
        client.set_tag(run_id, "more", "x")
    restored = client.restore_run(run_id)
    assert restored.data.tags == {"reviewed": "yes"}


@pytest.mark.parametrize(
    "line",
    [
        '{"t":1,"k":"tag:ok","v":"' + "x" * 9000 + '"}',  # over the tag value limit
        '{"t":1,"k":"tag:bad key!","v":"x"}',  # not a valid key
        '{"t":1,"k":"tag:mlflow.user","v":"mallory"}',  # a tag gittrack derives
        '{"t":1,"k":"tag:ok","v":"nul\\u0000"}',  # a NUL character
        '{"t":1,"k":"name","v":"line\\nbreak"}',  # a name of two lines
        '{"t":1,"k":"name","v":"\\u001b[31mred"}',  # control characters
        '{"t":1,"k":"name","v":"' + "n" * 600 + '"}',  # a name too long
        '{"t":1,"k":"param:lr","v":"9"}',  # params are not editable
        '{"t":1,"k":"status","v":"FAILED"}',  # nor the status
        '{"t":1,"k":"tag:ok","v":7}',  # not a string
        "not json",
    ],
)
def test_invalid_events_are_skipped(line: str) -> None:
    data = (line + '\n{"t":2,"k":"tag:valid","v":"kept"}\n').encode()
    assert annotations.parse(data) == annotations.Edits({"valid": "kept"}, None)


def test_later_events_win_and_null_restores(repo: Path) -> None:
    data = b'{"t":1,"k":"name","v":"a"}\n{"t":3,"k":"name","v":null}\n{"t":2,"k":"tag:x","v":"1"}\n'
    assert annotations.parse(data) == annotations.Edits({"x": "1"}, None)
    client = gittrack.Client()
    run_id = ended_run(client)
    for value in ("1", "2", "3"):  # one millisecond or not, the last call wins
        client.set_tag(run_id, "n", value)
    assert client.get_run(run_id).data.tags["n"] == "3"


def test_cli_tags_renames_and_describes_an_ended_run(repo: Path) -> None:
    from click.testing import CliRunner

    from gittrack.cli import main

    client = gittrack.Client()
    run_id = ended_run(client, old="x")
    short = client.get_run(run_id).info.short_id
    runner = CliRunner()

    def cli(*args: str):
        return runner.invoke(main, list(args), catch_exceptions=False)

    done = cli("runs", "tag", short, "reviewed=yes", "note=a=b", "--delete", "old")
    assert (done.exit_code, done.output) == (0, f"tagged base ({short}): reviewed=yes note=a=b -old\n")
    done = cli("runs", "rename", short, "final model")
    assert (done.exit_code, done.output) == (0, f"renamed run {short} to final model\n")
    done = cli("runs", "describe", "final model", "kept for the report")
    assert (done.exit_code, done.output) == (0, f"described final model ({short})\n")
    run = client.get_run(run_id)
    assert run.data.tags == {"reviewed": "yes", "note": "a=b", "mlflow.note.content": "kept for the report"}
    listed = cli("runs", "list", "-f", "tags.reviewed = 'yes'", "--json")
    assert [r["run_name"] for r in json.loads(listed.output)] == ["final model"]
    shown = cli("runs", "show", short, "--json")
    assert json.loads(shown.output)["tags"]["reviewed"] == "yes"
    assert "final model" in cli("runs", "show", short).output
    assert cli("runs", "describe", short, "").output == f"removed the description of final model ({short})\n"
    for args, code, message in [
        (("runs", "tag", short), 2, "give at least one KEY=VALUE"),
        (("runs", "tag", short, "novalue"), 2, "is not KEY=VALUE"),
        (("runs", "tag", short, "bad key!=1"), 2, "has characters other than"),
        (("runs", "rename", short, "two\nlines"), 2, "run name must be"),
        (("runs", "tag", "nope", "a=1"), 1, "no run matches 'nope'"),
    ]:
        failed = CliRunner().invoke(main, list(args))
        assert failed.exit_code == code, failed.output
        assert message in failed.output
        assert "Traceback" not in failed.output


def test_cli_edit_as_a_process(repo: Path, gittrack_cmd: list[str]) -> None:
    import subprocess

    client = gittrack.Client()
    run_id = ended_run(client)
    done = subprocess.run([*gittrack_cmd, "runs", "tag", run_id[:12], "reviewed=yes"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    client.delete_runs([run_id])
    refused = subprocess.run([*gittrack_cmd, "runs", "rename", run_id[:12], "x"], capture_output=True, text=True)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1
    assert "is deleted" in refused.stderr


def test_an_edit_keeps_the_cached_params_metrics_and_datasets(repo: Path) -> None:
    import math

    client = gittrack.Client()
    run = client.create_run(experiment="exp", run_name="odd", params={"p": "é"})
    client.log_metrics(run.info.run_id, {"nan": math.nan, "inf": math.inf, "low": -math.inf, "x": 0.5})
    client.log_dataset(run.info.run_id, "trips", digest="abc", context="training")
    client.set_terminated(run.info.run_id)
    before = client.find_rows().rows[0]
    client.set_tag(run.info.run_id, "reviewed", "yes")
    after = client.find_rows(filter_string="metrics.inf > 1 and dataset.name = 'trips'").rows[0]
    assert after.tags == {"reviewed": "yes"}
    assert (after.params, after.datasets) == (before.params, before.datasets)
    assert math.isnan(after.metrics["nan"])
    assert (after.metrics["inf"], after.metrics["low"], after.metrics["x"]) == (math.inf, -math.inf, 0.5)
