"""Scoring latency and throughput: ``gittrack models serve`` next to ``mlflow models serve``.

    python benchmarks/bench_serve.py [--requests N] [--rows N] [--seconds S] [--clients N]

Trains one sklearn pipeline (scaler + one-hot encoder + logistic regression over 3 columns,
with a signature), logs and registers it in a fresh repository and promotes it to production,
then serves it twice on 127.0.0.1, each server with one worker:
- gittrack: ``gittrack models serve churn@production``;
- MLflow: ``mlflow models serve -m <the same pipeline saved by MLflow> --env-manager local``.
For each: ``--requests`` sequential ``dataframe_split`` requests of ``--rows`` rows over one
keep-alive connection (after a warm-up) give p50 and p99 latency; then ``--clients`` threads
posting for ``--seconds`` give the throughput. Client and server share the machine's cores; both
servers run at once and the requests alternate between them (and the throughput rounds too), so
that other load on the machine weighs on both alike.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import requests

BIN = Path(sys.executable).parent


def train() -> tuple[object, pd.DataFrame]:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.integers(18, 80, 500), "income": rng.normal(50, 10, 500),
                          "plan": rng.choice(["basic", "pro", "team"], 500)})  # fmt: skip
    target = (frame["income"] > 50).astype(int)
    columns = ColumnTransformer([("num", StandardScaler(), ["age", "income"]),
                                 ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"])])  # fmt: skip
    return make_pipeline(columns, LogisticRegression()).fit(frame, target), frame


def gittrack_repo(root: Path, pipeline: object, frame: pd.DataFrame) -> None:
    import gittrack.mlflow as mlflow
    from gittrack.mlflow.models import infer_signature

    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([str(BIN / "gittrack"), "init", "--commit"], cwd=root, check=True, capture_output=True)
    os.chdir(root)
    mlflow.set_experiment("churn")
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(pipeline, name="model", signature=infer_signature(frame, pipeline.predict(frame)))
    for args in (["register", "churn", "--run", run.info.run_id], ["promote", "churn", "v0.0.1", "production"]):
        subprocess.run([str(BIN / "gittrack"), "models", *args], cwd=root, check=True, capture_output=True)


def mlflow_folder(folder: Path, pipeline: object, frame: pd.DataFrame) -> None:
    import mlflow.sklearn
    from mlflow.models import infer_signature

    mlflow.sklearn.save_model(pipeline, str(folder), signature=infer_signature(frame, pipeline.predict(frame)))


def start(command: list[str], cwd: Path, url_pattern: str, port: int | None) -> tuple[subprocess.Popen, str]:
    """Start a server, its output into a file (a pipe nobody reads would block it), and wait for /ping."""
    log = open(cwd.parent / f"{Path(command[0]).name}-{time.monotonic_ns()}.log", "w+")  # noqa: SIM115
    process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 180
    url = f"http://127.0.0.1:{port}" if port is not None else None
    while time.monotonic() < deadline:
        if url is None:
            found = re.search(url_pattern, Path(log.name).read_text())
            url = found.group(1) if found else None
        try:
            if url is not None and requests.get(f"{url}/ping", timeout=1).status_code == 200:
                return process, url
        except requests.ConnectionError:
            pass
        if process.poll() is not None:
            raise SystemExit(f"{command[0]} exited: {Path(log.name).read_text()[-2000:]}")
        time.sleep(0.2)
    raise SystemExit(f"{command[0]} did not answer /ping")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def latencies(urls: dict[str, str], body: bytes, count: int) -> dict[str, list[float]]:
    """``count`` sequential requests to each server, interleaved (A, B, A, B...) so that whatever
    else the machine does slows both alike; sorted seconds per server."""
    headers = {"Content-Type": "application/json"}
    sessions = {name: requests.Session() for name in urls}
    times: dict[str, list[float]] = {name: [] for name in urls}
    for round_ in range(200 + count):  # 200 warm-up rounds
        for name, url in urls.items():
            began = time.perf_counter()
            sessions[name].post(f"{url}/invocations", data=body, headers=headers).raise_for_status()
            if round_ >= 200:
                times[name].append(time.perf_counter() - began)
    for session in sessions.values():
        session.close()
    return {name: sorted(values) for name, values in times.items()}


def throughput(url: str, body: bytes, seconds: float, clients: int) -> int:
    """Requests answered in ``seconds`` with ``clients`` threads posting back to back."""
    headers = {"Content-Type": "application/json"}
    done = [0] * clients
    stop_at = time.monotonic() + seconds

    def client(index: int) -> None:
        with requests.Session() as session:
            while time.monotonic() < stop_at:
                session.post(f"{url}/invocations", data=body, headers=headers).raise_for_status()
                done[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="sequential requests for the latencies")
    parser.add_argument("--rows", type=int, default=1, help="rows in each request")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the throughput run")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients in the throughput run")
    args = parser.parse_args()
    import orjson

    pipeline, frame = train()
    sample = frame.sample(args.rows, replace=True, random_state=1).reset_index(drop=True)
    body = orjson.dumps({"dataframe_split": sample.to_dict(orient="split", index=False)})
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        root = Path(tmp) / "project"
        gittrack_repo(root, pipeline, frame)
        mlflow_folder(Path(tmp) / "mlflow-model", pipeline, frame)
        servers = {
            "gittrack": ([str(BIN / "gittrack"), "models", "serve", "churn@production", "--port", "0"],
                         r"(http://[^ /]+:\d+)", None),
            "mlflow": None,
        }  # fmt: skip
        port = free_port()
        folder = str(Path(tmp) / "mlflow-model")
        servers["mlflow"] = ([sys.executable, "-m", "mlflow", "models", "serve", "-m", folder, "--env-manager", "local",
                              "--host", "127.0.0.1", "--port", str(port)], "", port)  # fmt: skip
        processes, urls = [], {}
        try:
            for name, (command, pattern, fixed_port) in servers.items():
                process, urls[name] = start(command, root, pattern, fixed_port)
                processes.append(process)
            times = latencies(urls, body, args.requests)
            answered = dict.fromkeys(urls, 0)
            for _ in range(3):  # alternating rounds, for the same reason
                for name, url in urls.items():
                    answered[name] += throughput(url, body, args.seconds / 3, args.clients)
        finally:
            for process in processes:
                stop(process)
        for name, values in times.items():
            results[name] = {"p50": statistics.median(values) * 1000, "p99": values[int(len(values) * 0.99) - 1] * 1000,
                             "throughput": answered[name] / args.seconds}  # fmt: skip
    print(f"sklearn pipeline, {args.rows} row(s) a request, dataframe_split JSON, one worker, {args.requests} "
          f"sequential requests; throughput with {args.clients} clients for {args.seconds:g} s")  # fmt: skip
    print(f"{'server':10} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    for name, r in results.items():
        print(f"{name:10} {r['p50']:8.2f} {r['p99']:8.2f} {r['throughput']:8.0f}")
    ours, theirs = results["gittrack"], results["mlflow"]
    print(f"p50: gittrack is {theirs['p50'] / ours['p50']:.2f}x MLflow's speed; "
          f"throughput {ours['throughput'] / theirs['throughput']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
