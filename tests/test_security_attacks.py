"""A hostile remote, round 2: attacks played with plain git from a second clone against a real bare
remote, with and without the server hook (the ``world`` of test_security.py); the victim's files,
refs and what a fresh clone shows checked after."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import gittrack
from gittrack.store.naming import metric_filename
from gittrack.store.record import dump_record, dump_summary, parse_summary
from tests import test_security
from tests.conftest import git
from tests.test_security import BLOB, forge, gt, push_raw

pytestmark = pytest.mark.slow
RUN = ".gittrack/run"
world = test_security.world  # the fixture: a bare remote, an attacker's clone, a victim's clone


def _fresh_clone(world: dict, name: str = "fresh") -> Path:
    clone = world["remote"].parent / name
    subprocess.run(["git", "clone", "-q", str(world["remote"]), str(clone)], check=True, capture_output=True)
    assert gt(clone, "pull").returncode == 0
    return clone


# -- 6: a forged "later checkpoint" of someone else's RUNNING run ------------------------------
def test_a_forged_checkpoint_of_a_running_run_cannot_rewrite_it(world) -> None:
    attacker, victim = world["attacker"], world["victim"]
    (victim / "train.py").write_text("print('the real training')\n")
    client = gittrack.Client(victim)
    run_id = client.create_run(experiment="live", params={"lr": 0.1}, command=["python", "train.py"]).info.run_id
    for step in range(3):
        client.log_metric(run_id, "loss", 1.0 - step / 10, step=step)
    client._writer(run_id).checkpoint()
    pushed = gt(victim, "push")
    assert pushed.returncode == 0, pushed.stderr
    ref = f"refs/runs/live/{run_id}"
    genuine = git(victim, "rev-parse", ref).strip()

    git(attacker, "fetch", "-q", "origin", f"+{ref}:{ref}")
    tail = f"{RUN}/metrics/{metric_filename('loss')}"
    appended = git(attacker, "show", f"{genuine}:{tail}") + "3\t1700000000000\t0.05\n"
    forgeries = {  # each a later checkpoint (a point appended, FINISHED) that also changes one thing
        "recorded points": ({}, {tail: (appended.replace("\t0.9\n", "\t0.1\n").encode(), BLOB)}),
        "snapshot": ({}, {tail: (appended.encode(), BLOB), "train.py": (b"print('not what ran')\n", BLOB)}),
        "command": ({"argv": ["python", "evil.py"]}, {tail: (appended.encode(), BLOB)}),
    }
    for what, (command, changes) in forgeries.items():
        record = parse_summary(git(attacker, "show", f"{genuine}:{RUN}/summary.json").encode())
        record.status, record.end_time = "FINISHED", record.heartbeat + 2000
        record.heartbeat += 1000
        record.command.update(command)
        record.metrics["loss"].count += 1
        files = {f"{RUN}/summary.json": (dump_summary(record), BLOB), f"{RUN}/run.yaml": (dump_record(record), BLOB)}
        forged = forge(attacker, genuine, {**files, **changes})
        pushed = push_raw(attacker, f"{forged}:{ref}")
        pulled = gt(victim, "pull")  # the owner's clone keeps its run either way
        if world["hook"]:
            assert pushed.returncode != 0
            assert f"changes the {what}" in pushed.stderr or f"rewrites {what}" in pushed.stderr
            assert git(world["remote"], "rev-parse", ref).strip() == genuine
            assert pulled.returncode == 0, pulled.stderr
        else:
            assert pushed.returncode == 0
            assert f"conflict on {ref}" in pulled.stderr
            assert f"changes the {what}" in pulled.stderr or f"rewrites {what}" in pulled.stderr
        assert git(victim, "rev-parse", ref).strip() == genuine, what
    run = gittrack.Client(victim).get_run(run_id)
    assert run.info.status == "RUNNING"
    assert [m.value for m in client.get_metric_history(run_id, "loss")] == [1.0, 0.9, 0.8]
    if world["hook"]:  # with the hook, a fresh clone sees the genuine run too
        fresh = _fresh_clone(world)
        assert gittrack.Client(fresh).get_run(run_id).info.status == "RUNNING"
    # the owner's own later checkpoint (points appended) is still taken
    client.log_metric(run_id, "loss", 0.7, step=3)
    client._writer(run_id).checkpoint()
    if world["hook"]:
        assert gt(victim, "push").returncode == 0
        assert git(world["remote"], "rev-parse", ref).strip() == git(victim, "rev-parse", ref).strip()
