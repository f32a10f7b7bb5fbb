"""A small repository with what the UI shows: two experiments, metric histories, artifacts of each
kind, an uncommitted edit, a hostile param, a registered and promoted model and an open promotion
request. Built once per test module (the UI tests only read it)."""

from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import gittrack
from tests.conftest import BIN

XSS = "<script>alert(1)</script>"
LONG_STEPS = 5000
XSS_FILE = "<img src=x onerror=alert(2)>.txt"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a0"
    "c1f5c80000000049454e44ae426082"
)


TRACEBACK = """Traceback (most recent call last):
  File "train.py", line 12, in <module>
    main()
  File "train.py", line 9, in main
    model.fit(features, labels)
ValueError: Input contains NaN, infinity or a value too large for dtype('float64').
"""


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain PNG of one colour with a darker diagonal, for the image gallery."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    dark = bytes(c // 3 for c in rgb)
    rows = b"".join(b"\x00" + b"".join(dark if x == y * width // height else bytes(rgb) for x in range(width))
                    for y in range(height))  # fmt: skip
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def vision(client: gittrack.Client, root: Path, ids: dict[str, str]) -> None:
    """Experiment ``vision``: four runs over two optimizers (grouping), metrics under prefixes
    (``system/``, ``training_``) with a first-step spike, images in a folder (the gallery), and a
    command that failed (its traceback only in the captured stderr)."""
    plots = root / "out" / "plots"
    plots.mkdir(parents=True)
    for name, colour in (
        ("confusion.png", (31, 119, 180)),
        ("roc.png", (44, 160, 44)),
        ("samples.png", (255, 127, 14)),
    ):
        (plots / name).write_bytes(png(48, 32, colour))
    for i, (optimizer, lr) in enumerate((("adam", 0.001), ("adam", 0.01), ("sgd", 0.01), ("sgd", 0.1))):
        run = client.create_run(experiment="vision", run_name=f"resnet-{i}", params={"optimizer": optimizer, "lr": lr},
                                tags={"dataset": "cifar10"})  # fmt: skip
        run_id = run.info.run_id
        for step in range(30):
            spike = 40.0 if step == 0 else 0.0
            client.log_metrics(run_id, {"training_loss": spike + (1.5 - 0.2 * i) / (step + 1),
                                        "training_accuracy": 0.5 + 0.01 * step + 0.02 * i,
                                        "val_loss": (1.8 - 0.2 * i) / (step + 1), "system/cpu": 40.0 + step % 7,
                                        "system/memory": 1000.0 + 10 * step}, step=step)  # fmt: skip
        if i == 0:
            client.log_artifacts(run_id, plots, "plots")
        client.set_terminated(run_id)
        ids[f"resnet-{i}"] = run_id
    crashed = client.create_run(experiment="vision", run_name="crashed", params={"optimizer": "sgd", "lr": 1.0})
    client.log_metric(crashed.info.run_id, "training_loss", 3.0)
    stderr = ("loading " + "x" * 300 + "\n" + TRACEBACK).encode()
    client.set_log(crashed.info.run_id, "stderr", stderr, len(stderr))
    client.set_terminated(
        crashed.info.run_id, "FAILED", {"type": "ExitCode", "message": "command exited with status 1"}
    )
    ids["crashed"] = crashed.info.run_id


class Doubler:
    """A python-flavor model."""

    def predict(self, values):
        return [2 * v for v in values]


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def build(root: Path, steps: int = 50) -> dict:
    """Create the repository at ``root``; returns the run ids by role and the model name."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "train.py").write_text("print('training')\n")
    (root / ".gitignore").write_text("*.log\nout/\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial")
    subprocess.run([str(BIN / "gittrack"), "init", "--dvc-remote", str(root.parent / "dvc-remote"), "--commit"],
                   cwd=root, check=True, capture_output=True)  # fmt: skip
    client = gittrack.Client(root)
    ids: dict[str, str] = {}
    out = root / "out"
    out.mkdir()
    (out / "notes.txt").write_text("first line\nsecond line\n")
    (out / "table.csv").write_text("epoch,loss\n0,1.0\n1,0.5\n")
    (out / "plot.png").write_bytes(PNG)
    (out / "info.json").write_text(json.dumps({"accuracy": 0.9, "note": XSS}))
    (out / XSS_FILE).write_text(XSS)
    (root / "data.csv").write_text("x,y\n1,2\n")
    for i, lr in enumerate((0.001, 0.01, 0.1)):
        if i == 2:  # an uncommitted edit: the snapshot differs from the source commit
            (root / "train.py").write_text("print('training harder')\n")
        run = client.create_run(experiment="taxi", run_name=f"sweep-{i}", params={"lr": lr, "depth": 3 + i},
                                tags={"team": "pricing"})  # fmt: skip
        run_id = run.info.run_id
        for step in range(steps):
            client.log_metrics(run_id, {"loss": (1.0 + i) / (step + 1), "acc": 1 - 0.5 / (step + 1 + i)}, step=step)
        if i == 0:
            client.log_input(run_id, root / "data.csv")
            for name in ("notes.txt", "table.csv", "plot.png", "info.json", XSS_FILE):
                client.log_artifact(run_id, out / name, "files")
            client.log_model(run_id, Doubler(), name="model")
            client.set_log(run_id, "stdout", b"epoch 1\nepoch 2\n" + XSS.encode() + b"\n", 30)
        client.set_terminated(run_id)
        ids[f"sweep-{i}"] = run_id
    (root / "train.py").write_text("print('training')\n")
    hostile = client.create_run(experiment="taxi", run_name=XSS, params={"evil": XSS}, tags={"note": XSS})
    client.log_metric(hostile.info.run_id, "loss", math.nan)
    client.set_terminated(hostile.info.run_id, "FAILED", {"type": "ValueError", "message": XSS, "traceback": XSS})
    ids["hostile"] = hostile.info.run_id
    other = client.create_run(experiment="churn", run_name="churn-a", params={"C": 1.0})
    client.log_metric(other.info.run_id, "auc", 0.8)
    client.log_model(other.info.run_id, Doubler(), name="model")
    client.set_terminated(other.info.run_id)
    ids["churn"] = other.info.run_id
    running = client.create_run(experiment="churn", run_name="still-going", params={"C": 2.0})
    client.log_metric(running.info.run_id, "auc", 0.5)
    client.flush(running.info.run_id)
    client.detach(running.info.run_id)
    ids["running"] = running.info.run_id
    long = client.create_run(experiment="long", run_name="long-history")
    for step in range(LONG_STEPS):
        client.log_metric(long.info.run_id, "loss", 100.0 if step == 1234 else 1.0 / (step + 1), step=step)
    client.set_terminated(long.info.run_id)
    ids["long"] = long.info.run_id
    vision(client, root, ids)
    client.register_model(f"runs:/{ids['sweep-0']}/model", "taxi-model")
    client.promote_model("taxi-model", "v0.0.1", "staging")
    client.register_model(f"runs:/{ids['churn']}/model", "taxi-model")
    subprocess.run([str(BIN / "gittrack"), "models", "promote", "taxi-model", "v0.0.2", "production", "--request"],
                   cwd=root, check=True, capture_output=True)  # fmt: skip
    return {"ids": ids, "model": "taxi-model", "python": sys.executable}
