"""Two machines share one sweep through PostgreSQL (a real server started on 127.0.0.1 for the
test), and the runs each pushed meet in a third clone."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import BIN, git, optional, optional_programs

pytestmark = pytest.mark.slow

TRAIN = """\
import sys, time, gittrack
x = float(sys.argv[1])
with gittrack.start_run():
    time.sleep(0.3)
    gittrack.log_metric("loss", (x - 1) ** 2, step=0)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres():
    """A throwaway PostgreSQL cluster on 127.0.0.1 (initdb, pg_ctl from Debian's postgresql
    package); run as 'nobody' when the tests run as root, since postgres refuses root."""
    optional("psycopg2", "the PostgreSQL driver: pip install psycopg2-binary")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or ["initdb"]  # Debian keeps it off PATH
    bindir = Path(optional_programs(found[-1], install="apt-get install postgresql")[0]).parent
    top = Path(tempfile.mkdtemp(prefix="gittrack-pg-"))
    data = top / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(top, "nobody")
        as_user = ["runuser", "-u", "nobody", "--"]
    port = _free_port()

    def pg(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=120)

    try:
        pg(str(bindir / "initdb"), "-D", str(data), "-U", "gittrack", "--auth=trust", "-E", "UTF8", "--no-sync")
        pg(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(top / "log"), "-w", "-o",
           f"-h 127.0.0.1 -p {port} -k {top} -F", "start")  # fmt: skip
        yield f"postgresql://gittrack@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            pg(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(top, ignore_errors=True)


def clone(remote: Path, path: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(remote), str(path)], check=True, capture_output=True)
    return path


def cli(*args: str, cwd: Path) -> str:
    result = subprocess.run([str(BIN / "gittrack"), *args], cwd=cwd, capture_output=True, text=True, timeout=180,
                            check=False)  # fmt: skip
    assert result.returncode == 0, f"gittrack {' '.join(args)}: {result.stderr}"
    return result.stdout


def test_two_clones_share_one_sweep_through_postgresql(postgres: str, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    seed = clone(remote, tmp_path / "seed")
    (seed / "train.py").write_text(TRAIN)
    (seed / "space.yaml").write_text("x: {type: float, low: -3, high: 3}\n")
    git(seed, "add", ".")
    git(seed, "commit", "-q", "-m", "trainer")
    git(seed, "push", "-q", "origin", "HEAD:main")
    a, b = clone(remote, tmp_path / "a"), clone(remote, tmp_path / "b")
    total = 6
    machine_a = subprocess.Popen(
        [str(BIN / "gittrack"), "sweep", "-e", "shared", "--space", "space.yaml", "--trials", str(total),
         "--metric", "loss", "--storage", postgres, "--pruner", "none", "-q", "--", sys.executable, "train.py", "{x}"],
        cwd=a, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    first = machine_a.stdout.readline()  # type: ignore[union-attr]
    assert first.startswith("sweep: "), first + machine_a.stderr.read()  # type: ignore[union-attr]
    sweep_id = first.split()[1]
    joined = cli("sweep", "--join", sweep_id, "--storage", postgres, "-q", cwd=b)
    assert joined.splitlines()[0] == f"sweep: {sweep_id}"
    _, err = machine_a.communicate(timeout=180)
    assert machine_a.returncode == 0, err

    status = json.loads(cli("sweep", "status", sweep_id, "--storage", postgres, "--json", cwd=b))
    assert status["finished"] == total
    assert status["counts"]["COMPLETE"] == total
    here = json.loads(cli("sweep", "trials", sweep_id, "--json", cwd=a))  # a remembers the storage
    assert len(here) == total
    assert 1 <= sum(1 for t in here if t["run_id"]) < total  # b's runs are not here yet
    ran_in = {"a": 0, "b": 0}
    for name, root in (("a", a), ("b", b)):
        listed = json.loads(cli("runs", "list", "--all", "--json", "-f", f"tags.gittrack.sweep = '{sweep_id}'",
                                cwd=root))  # fmt: skip
        ran_in[name] = sum(1 for r in listed if r["run_id"] != sweep_id)
        cli("push", cwd=root)
    assert ran_in["a"] >= 1
    assert ran_in["b"] >= 1
    assert ran_in["a"] + ran_in["b"] == total

    c = clone(remote, tmp_path / "c")
    cli("pull", cwd=c)
    listed = json.loads(cli("runs", "list", "--all", "--json", "-f", f"tags.gittrack.sweep = '{sweep_id}'", cwd=c))
    trials = json.loads(cli("sweep", "trials", sweep_id, "--storage", postgres, "--json", cwd=c))
    assert all(t["run_id"] for t in trials)  # every trial's run is here now
    by_id = {r["run_id"]: r for r in listed}
    assert len(listed) == total + 1
    assert {t["run_id"] for t in trials} | {sweep_id} == set(by_id)
    assert all(by_id[t["run_id"]]["parent_run_id"] == sweep_id for t in trials)
