"""Every page of the documentation, run as a scenario (tests/docrunner.py): its commands and
snippets in order, in a fresh folder with what the page assumes (a project, a bare remote, a DVC
remote). A page that drifts from the code fails here."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BIN
from tests.docblocks import Block, alternatives, blocks, commands, minimal, option_words
from tests.docrunner import ROOT, Page, Scenario, check_options

PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]


def taxi_project(s: Scenario, folder: Path) -> None:
    """The example project: examples/train.py and the synthetic trips it trains on."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "examples" / "train.py", folder / "train.py")
    spec = importlib.util.spec_from_file_location("demo", ROOT / "examples" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    demo.write_trips(folder / "data" / "trips.csv", n=2000)
    (folder / ".gitignore").write_text("__pycache__/\n")


def team_project(s: Scenario, folder: str = "project") -> None:
    """A bare remote and a clone of it holding the example project, set up with a local DVC remote,
    its trips tracked by DVC, and pushed, as the current folder."""
    s.sh(f"git init -q --bare -b main {s.remote} && git clone -q {s.remote} {folder}")
    s.cwd = s.tmp / folder
    taxi_project(s, s.cwd)
    s.sh("git add train.py .gitignore && git commit -q -m 'Train on the trips' && git push -q origin main")
    s.sh(f"gittrack init --dvc-remote {s.dvc_remote} --commit && git push -q origin main")
    s.sh(
        f"{sys.executable} -m dvc add -q data/trips.csv && git add data && git commit -q -m 'Track the trips with DVC'"
    )
    s.sh("git push -q origin main")


def plain_project(s: Scenario) -> None:
    """A git repository with one commit, as the current folder."""
    s.cwd = s.tmp / "project"
    s.cwd.mkdir()
    (s.cwd / "train.py").write_text("print('training')\n")
    s.sh("git init -q && git add . && git commit -q -m 'Start'")


def model_runs(s: Scenario, n: int, experiment: str = "churn") -> None:
    """``n`` finished runs, each with a scikit-learn model and an auc."""
    from sklearn.linear_model import LinearRegression

    import gittrack

    client = gittrack.Client(s.cwd)
    for i in range(n):
        run_id = client.create_run(experiment, params={"slope": i + 1}).info.run_id
        client.log_metrics(run_id, {"auc": 0.8 + i / 100, "rmse": 0.5 - i / 100, "accuracy": 0.9})
        client.log_model(run_id, LinearRegression().fit([[0.0], [1.0]], [0.0, i + 1.0]), name="model")
        client.set_terminated(run_id)


# -- README.md -------------------------------------------------------------------------------------


def readme_setup(s: Scenario) -> None:
    team_project(s)
    with open(s.cwd / ".gitignore", "a") as ignore:  # outputs stay out of the snapshots, so runs check out;
        ignore.write("/plots/\n")  # anchored (test_checkout_of_a_run_whose_artifact_folder_the_project_ignores)
    s.sh("git commit -q -am 'Ignore plots' && git push -q origin main")
    (s.cwd / "plots").mkdir()
    (s.cwd / "plots" / "learning_curve.png").write_bytes(b"\x89PNG a learning curve")


def autologged_forest(s: Scenario) -> None:
    """The forest's fit was a complete run; turning autologging off ends it (reads see its last checkpoint)."""
    import gittrack

    run_id = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)
    run = gittrack.get_run(run_id)
    assert run.data.params["n_estimators"] == "100"
    assert "training_accuracy_score" in run.data.metrics
    assert {"model", "estimator.html", "training_confusion_matrix.png"} <= {a["path"] for a in run.details.artifacts}
    assert [(i["name"], i["context"]) for i in run.details.inputs if "digest" in i] == [("dataset", "train")]


README = Page(
    "README.md",
    setup=readme_setup,
    prelude="""
import itertools
import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

_points = itertools.count(1)

def train_one_epoch():
    return 3.0 / next(_points)

trips = pd.read_csv("data/trips.csv")
x_val = trips[["distance_km", "hour", "passengers"]]
pipeline = make_pipeline(StandardScaler(), LinearRegression()).fit(x_val, trips["duration_min"])

from sklearn.ensemble import RandomForestClassifier
X_train, y_train = x_val[:500], trips["duration_min"][:500] > 30
""",
    replace={"make demo": f"python {ROOT}/examples/demo.py"},
    skip={"make test": "it runs this very suite"},
    values={
        "01m8eehfryh3": lambda s: s.run(-1)[:12],
        # RUN: the newest run (the second RUN of a line, the one before); 'runs delete' takes the oldest, so
        # that the newest taxi run keeps the ref the plain git lines after it read
        "RUN": lambda s: s.run(0) if s.line.startswith("gittrack runs delete") else s.run(-1 - s.index),
        "RUN_A": lambda s: s.run(-2),
        "RUN_B": lambda s: s.run(-1),
        "DIR": lambda s: str(s.tmp / "artifacts"),
        "<run-id>": lambda s: s.run(-1, "taxi"),
    },
    before={  # the README registers one version; the request promotes a second one
        "gittrack import mlflow --tracking-uri sqlite:///mlflow.db": lambda s: mlflow_store(
            f"sqlite:///{s.cwd}/mlflow.db"
        ),
        "gittrack models promote churn v0.0.2 production --request --push": lambda s: s.sh(
            f"gittrack models register churn --run {s.run(-2, 'taxi')}"
        ),
    },
    after={
        "gittrack.autolog()": autologged_forest,
        "gittrack.search_runs(filter_string=": lambda s: len(s.ns["_"]) == 1,
        "gittrack report -e taxi -o report.html": lambda s: "<html" in (s.cwd / "report.html").read_text()[:500],
    },
    expect={
        "gittrack models register churn --run RUN": ["churn@v0.0.1"],
        "gittrack models promote churn v0.0.1 production": ["churn#production#1"],
        "gittrack ui [--port 5151] [--allow-write]": ["read-only; Ctrl-C to stop", '"taxi"'],
        "gittrack models serve churn@production [--port 5000]": ["churn@production -> v0.0.1", "following it"],
        "gittrack server [--port 5000]": ["MLFLOW_TRACKING_URI=http://127.0.0.1:"],
        "gittrack models predict churn@production -i data/trips.csv -o predictions.csv": ["scored 2000 rows"],
    },
    serve={
        "gittrack ui [--port 5151] [--allow-write]": "/api/experiments",
        "gittrack models serve churn@production [--port 5000]": "/ping",
        "gittrack server [--port 5000]": "/api/2.0/mlflow/experiments/search?max_results=5",
    },
)


# -- docs/architecture.md ------------------------------------------------------------------------


def tree_paths(code: str) -> list[str]:
    """The paths of a package tree drawn with two spaces an indent; a deeper line that follows a
    file is the previous description wrapped."""
    paths: list[str] = []
    folders: list[tuple[int, str]] = []
    for line in code.splitlines():
        indent = len(line) - len(line.lstrip())
        names = re.match(r"[\w./]+(?:, [\w./]+)*", line.strip())[0].split(", ")
        if indent == 0:
            folders = [(0, names[0])]
            continue
        while folders and folders[-1][0] >= indent:
            folders.pop()
        if not folders or indent != folders[-1][0] + 2:
            continue
        for name in names:
            assert name.endswith((".py", "/")), f"not a module or a folder: {name!r} in {line!r}"
            paths.append(folders[-1][1] + name)
            if name.endswith("/"):
                folders.append((indent, paths[-1]))
    return paths


def package_tree(s: Scenario, block) -> None:
    """Every path of the tree exists; every module is in it, or inside a folder it shows whole."""
    listed = tree_paths(block.code)
    assert [path for path in listed if not (ROOT / path).exists()] == []
    folders = {p for p in listed if p.endswith("/")}
    whole = {f for f in folders if not any(p != f and p.startswith(f) for p in listed)}
    unlisted = [
        path
        for path in (str(f.relative_to(ROOT)) for f in (ROOT / "gittrack").rglob("*.py"))
        if not Path(path).name.startswith("_") and path not in listed and not any(path.startswith(f) for f in whole)
    ]
    assert unlisted == [], f"modules docs/architecture.md does not show: {unlisted}"


def layers_block(s: Scenario, block) -> None:
    """The layers block is the one tests/test_layers.py enforces, and it places every module."""
    from tests import test_layers

    assert test_layers.ARCHITECTURE.read_text().count(block.code) == 1
    for module in test_layers.MODULES:
        test_layers._layer(module)  # raises for a module in no layer


ARCHITECTURE = Page("docs/architecture.md", checks={"gittrack/": package_tree, "cli:": layers_block})


# -- docs/autolog.md -----------------------------------------------------------------------------

LIGHTNING = """
import lightning
import torch
from torch.utils.data import DataLoader, TensorDataset

class Regression(lightning.pytorch.LightningModule):
    def __init__(self, lr=0.1):
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(1, 1)

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

points = torch.linspace(0, 1, 32).unsqueeze(1)
train_loader = DataLoader(TensorDataset(points, 2 * points), batch_size=2)  # enough steps to log (every 50)
val_loader = DataLoader(TensorDataset(points, 2 * points), batch_size=8)
model = Regression()
"""

OPTUNA = """
import optuna
from gittrack.integrations.optuna import GittrackCallback

optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.create_study(study_name="rf", sampler=optuna.samplers.RandomSampler(seed=0))

def objective(trial):
    return (trial.suggest_float("x", -1, 1) - 0.5) ** 2
"""


def define(code: str):
    """A step that runs ``code`` in the page's namespace: what a snippet assumes, just before it."""
    return lambda s: exec(code, s.ns)


def autolog_setup(s: Scenario) -> None:
    plain_project(s)
    s.sh("gittrack init --commit")


def post_training_metrics(s: Scenario) -> None:
    import gittrack

    run_id = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)  # ends the run, so that reading it sees everything
    metrics = gittrack.get_run(run_id).data.metrics
    assert {"accuracy_score_X_test", "LogisticRegression_score_X_test"} <= set(metrics), metrics


def search_children(s: Scenario) -> None:
    runs = s.ns["runs"]
    assert len(runs) == 5, runs  # the best 5 of 6 candidates
    assert set(runs["params.kernel"]) == {"linear", "rbf"}
    assert runs["metrics.mean_test_score"].notna().all()


def lightning_run(s: Scenario) -> None:
    import gittrack

    run = gittrack.get_run(s.ns["trainer"].logger.run_id)
    assert (run.info.experiment, run.info.status) == ("mnist", "FINISHED")
    assert {"train_loss", "val_loss"} <= set(run.data.metrics)
    assert "model" in [a["path"] for a in run.details.artifacts]


def optuna_runs(s: Scenario) -> None:
    import gittrack

    trials = gittrack.search_runs(filter_string="tags.`optuna.study_name` = 'rf'")
    assert len(trials) == 50, len(trials)
    parent = gittrack.get_run("tune-rf")
    assert parent.data.metrics["best_value"] == s.ns["study"].best_value


AUTOLOG = Page(
    "docs/autolog.md",
    setup=autolog_setup,
    prelude="""
from sklearn.datasets import make_classification

X, y = make_classification(n_samples=120, n_features=4, random_state=0)
X_train, X_test, y_train, y_test = X[:90], X[90:], y[:90], y[90:]
""",
    before={
        "runs = gittrack.search_runs(": define(
            "from sklearn.datasets import load_iris\nfrom sklearn.model_selection import GridSearchCV\n"
            "from sklearn.svm import SVC\n"
            "GridSearchCV(SVC(), {'kernel': ['linear', 'rbf'], 'C': [1, 5, 10]}).fit(*load_iris(return_X_y=True))\n"
            "parent_id = gittrack.autolog.last_run_id()"
        ),
        "model = LogisticRegression()": define(  # looked up after autolog(), as the page says they must be
            "from sklearn.linear_model import LogisticRegression\nfrom sklearn.metrics import accuracy_score"
        ),
        "from gittrack.integrations.lightning import GittrackLogger": define(LIGHTNING),
        "with gittrack.start_run(run_name=": define(OPTUNA),
    },
    after={
        "import gittrack": lambda s: s.ns["gittrack"].autolog.last_run_id() is not None,
        "runs = gittrack.search_runs(": search_children,
        "model = LogisticRegression()": post_training_metrics,
        "from gittrack.integrations.lightning import GittrackLogger": lightning_run,
        "with gittrack.start_run(run_name=": optuna_runs,
    },
)


# -- docs/data.md ----------------------------------------------------------------------------------


def data_setup(s: Scenario) -> None:
    plain_project(s)
    (s.cwd / ".gitignore").write_text("/out/\n*.parquet\n")
    s.sh("git add .gitignore && git commit -q -m 'Ignore outputs'")
    (s.cwd / "data" / "features").mkdir(parents=True)
    (s.cwd / "data" / "extra.parquet").write_bytes(b"PAR1 extra rows")
    (s.cwd / "data" / "features" / "part-0.csv").write_text("a,b\n1,2\n")
    (s.cwd / "out" / "plots").mkdir(parents=True)
    (s.cwd / "out" / "model.onnx").write_bytes(b"onnx model bytes")
    (s.cwd / "out" / "plots" / "loss.png").write_bytes(b"\x89PNG loss")


def end_the_run(s: Scenario) -> None:
    import gittrack

    s.ns["run"] = gittrack.active_run().info.run_id
    gittrack.end_run()


def checkpointed_active_run() -> str:
    """The active run's id, once a checkpoint holds what it logged: loading a model logged by the
    still-active run fails until then (test_load_model_logged_by_the_active_run)."""
    import gittrack

    run = gittrack.active_run()
    run._client.flush(run.run_id)
    return run.run_id


DATA = Page(
    "docs/data.md",
    setup=data_setup,
    prelude="""
import gittrack
from sklearn.linear_model import LinearRegression
gittrack.set_experiment("taxi")
model = LinearRegression().fit([[0.0], [1.0]], [0.0, 2.0])
""",
    values={
        "s3://my-bucket/dvc": lambda s: str(s.dvc_remote),
        "/tmp/plots": lambda s: str(s.tmp / "plots"),
        "<run-id>": lambda s: s.run(0, "taxi"),
        "RUN": lambda s: s.run(0),
        "<run>": lambda s: checkpointed_active_run(),
    },
    before={"git checkout refs/runs/taxi/<run-id>": end_the_run},
    expect={
        "gittrack init --dvc-remote s3://my-bucket/dvc --commit": ["DVC: remote", "committed them"],
        "dvc status": ["up to date"],
        "gittrack artifacts list RUN [PATH] [--json]": ["model.onnx", "models/final/model.onnx", "plots"],
    },
    after={
        "dvc checkout": lambda s: (
            (s.cwd / ".gittrack/run/artifacts/models/final/model.onnx").read_bytes() == b"onnx model bytes"
        ),
        'gittrack.download_artifacts(run, "plots"': lambda s: (s.tmp / "plots" / "plots" / "loss.png").exists(),
        "gittrack.log_model(model": lambda s: s.ns["model"].predict([[2.0]])[0] == 4.0,
    },
)


# -- docs/format.md --------------------------------------------------------------------------------

FORMAT_SCRIPT = """
import os, sys, tempfile
import gittrack

with gittrack.start_run():
    gittrack.log_metrics({"loss": 1.0})
    for step in range(4100):  # a sealed segment of 4,096 points, and a tail
        gittrack.log_metric("val loss", 1.0 / (step + 1), step=step)
    folder = tempfile.mkdtemp()
    with open(os.path.join(folder, "weights.bin"), "wb") as out:
        out.write(b"weights")
    gittrack.log_artifact(os.path.join(folder, "weights.bin"), "models")
    gittrack.log_artifacts(folder, "folder")
    print("to stdout")
    print("to stderr", file=sys.stderr)
"""


def format_setup(s: Scenario) -> None:
    """Two runs of experiment 'Taxi' under gittrack run: the first packed, the second with a ref."""
    plain_project(s)
    (s.cwd / "train.py").write_text(FORMAT_SCRIPT)
    s.sh("git commit -q -am 'Log everything' && gittrack init --commit")
    s.sh("gittrack run -e Taxi -- python train.py && gittrack runs pack")
    s.sh("gittrack run -e Taxi -- python train.py")
    s.ns["ref"] = s.sh("git for-each-ref --format='%(refname)' refs/runs/").strip()


def template(text: str) -> re.Pattern:
    """A line of the page as a pattern: each <placeholder> stands for some text."""
    return re.compile(re.sub(r"<[^>]+>", ".+?", re.escape(text).replace("\\<", "<").replace("\\>", ">")))


def file_names(block_code: str) -> list[str]:
    """The paths of a listing such as ``logs/stdout.txt, stderr.txt     (a comment)``."""
    names = []
    for line in block_code.splitlines():
        path = re.split(r"\s{2,}", line.strip())[0].removesuffix(" ...")
        first, *others = path.split(", ")
        names += [first, *(first.rsplit("/", 1)[0] + "/" + other for other in others)]
    return names


def run_ref_names(s: Scenario, block) -> None:
    refs = s.sh("git for-each-ref --format='%(refname)' refs/runs/ refs/runs-deleted/").split()
    assert refs
    assert all(template(block.code.strip()).fullmatch(ref) for ref in refs), refs
    assert refs[0].split("/")[2] == "%54axi"  # the experiment's name, encoded


def index_tree(s: Scenario, block) -> None:
    tree = s.sh("git ls-tree -r --name-only refs/runs-index/%54axi").split()
    assert [name for name in file_names(block.code) if not any(template(name).fullmatch(t) for t in tree)] == []
    assert s.sh("git show refs/runs-index/%54axi:FORMAT") == "gittrack-run-index 1\n"


def commit_message(s: Scenario, block) -> None:
    message = s.sh(f"git log -1 --format=%B {s.ns['ref']}").rstrip("\n").splitlines()
    expected = block.code.rstrip("\n").splitlines()
    assert len(message) == len(expected)
    assert all(template(e).fullmatch(m) for e, m in zip(expected, message, strict=True))


def run_files(s: Scenario, block) -> None:
    tree = s.sh(f"git ls-tree -r --name-only {s.ns['ref']}").split("\n")
    missing = [name for name in file_names(block.code) if not any(template(name).fullmatch(t) for t in tree)]
    assert missing == [], f"no file of the run for {missing} in {tree}"


def metric_file(s: Scenario, block) -> None:
    shown = s.sh(f"git show '{s.ns['ref']}:.gittrack/run/metrics/val%20loss.tsv'").splitlines()
    sealed = s.sh(f"git show '{s.ns['ref']}:.gittrack/run/metrics/val%20loss.segments/00000001.tsv'").splitlines()
    expected = block.code.splitlines()
    assert shown[0] == sealed[0] == expected[0]
    assert len(sealed) == 4097
    assert len(shown) == 5
    for line in (*expected[1:], *sealed[1:3]):
        step, timestamp, value = line.split("\t")
        assert int(step) >= 0
        assert int(timestamp) > 0
        assert float(value) > 0


def dvc_pointer(s: Scenario, block) -> None:
    import yaml

    documented = yaml.safe_load(block.code)["outs"][0]
    for name, folder in (("models/weights.bin.dvc", False), ("folder.dvc", True)):
        written = yaml.safe_load(s.sh(f"git show {s.ns['ref']}:.gittrack/run/artifacts/{name}"))["outs"][0]
        assert set(written) == set(documented) - ({"nfiles"} if not folder else set())
        assert written["hash"] == "md5"
        assert written["md5"].endswith(".dir") == folder


def run_edits_note(s: Scenario, block) -> None:
    """The CLI's edits of an ended run write the documented lines to a note on its unchanged commit."""
    import json

    ref = s.ns["ref"]
    commit = s.sh(f"git rev-parse {ref}").strip()
    s.sh(f"gittrack runs tag {ref} reviewed=yes && gittrack runs rename {ref} best-lr")
    s.sh(f"gittrack runs describe {ref} 'kept for the weekly report'")
    written = [json.loads(line) for line in s.sh(f"git notes --ref=gittrack show {commit}").splitlines()]
    documented = [json.loads(line) for line in block.code.splitlines()]
    assert [(e["k"], e["v"]) for e in written] == [(e["k"], e["v"]) for e in documented]
    assert all(set(e) == {"k", "t", "v"} for e in written)
    assert [e["t"] for e in written] == sorted({e["t"] for e in written})
    assert s.sh(f"git rev-parse {ref}").strip() == commit


FORMAT = Page(
    "docs/format.md",
    setup=format_setup,
    checks={
        "refs/runs/<experiment>/<run-id>": run_ref_names,
        "FORMAT": index_tree,
        "run <name> <12-char id>": commit_message,
        ".gittrack/run/run.yaml": run_files,
        "step\ttimestamp_ms\tvalue": metric_file,
        "outs:": dvc_pointer,
        '{"k":"tag:reviewed"': run_edits_note,
    },
)


# -- docs/mlflow.md --------------------------------------------------------------------------------


def mlflow_script(s: Scenario) -> None:
    """An MLflow script on the imports the page gives, in a repository with no gittrack or DVC set-up:
    its run is a commit on refs/runs/<experiment>/<run-id>, its artifact in the DVC cache DVC was set up
    for, and the client and ViewType read it back."""
    mlflow, client, view = s.ns["mlflow"], s.ns["MlflowClient"](), s.ns["ViewType"]
    experiment = mlflow.set_experiment("taxi")
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_params({"lr": 0.1, "model": "rf"})
        mlflow.log_metric("rmse", 0.7)
        mlflow.log_dict({"features": ["distance_km"]}, "features.json")
    assert (experiment.experiment_id, run.info.status, run.data.metrics) == ("taxi", "FINISHED", {"rmse": 0.7})
    assert s.sh("git for-each-ref --format='%(refname)' refs/runs/").split() == [f"refs/runs/taxi/{run.info.run_id}"]
    found = client.search_runs(["taxi"], "params.model = 'rf'", run_view_type=view.ACTIVE_ONLY)
    assert [r.info.run_id for r in found] == [run.info.run_id]
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["features.json"]
    downloaded = client.download_artifacts(run.info.run_id, "features.json", str(s.tmp))
    assert Path(downloaded).read_text().count("distance_km") == 1
    assert (s.cwd / ".dvc").is_dir()
    loaded = s.sh(  # neither import loads what it does not need
        f"{sys.executable} -c \"import sys, gittrack; print('gittrack.mlflow' in sys.modules); "
        "import gittrack.mlflow; print(sorted({'sklearn', 'pandas', 'gittrack.mlflow.sklearn'} & set(sys.modules)))\""
    )
    assert loaded.split("\n")[:2] == ["False", "[]"], loaded


MLFLOW = Page("docs/mlflow.md", setup=plain_project, after={"import gittrack.mlflow as mlflow": mlflow_script})


# -- docs/migrate.md -------------------------------------------------------------------------------


def mlflow_store(uri: str) -> None:
    """An MLflow store (a database or a folder) holding one finished run of experiment churn."""
    import os

    from mlflow.tracking import MlflowClient

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=uri)
    run = client.create_run(client.create_experiment("churn"), run_name="forest")
    client.log_param(run.info.run_id, "depth", "4")
    for step in range(3):
        client.log_metric(run.info.run_id, "auc", 0.7 + step / 10, step=step)
    client.set_terminated(run.info.run_id)


def migrate_setup(s: Scenario) -> None:
    """The page's my-project, beside which the MLflow stores it imports from lie."""
    project = s.tmp / "my-project"
    project.mkdir()
    (project / "train.py").write_text("print('training')\n")
    s.sh("git init -q && git add . && git commit -q -m 'Start'", cwd=project)
    (project / "path" / "to").mkdir(parents=True)
    mlflow_store(f"sqlite:///{project}/path/to/mlflow.db")
    mlflow_store(str(project / "path" / "to" / "mlruns"))


def imported_once(s: Scenario) -> bool:
    """The dry runs wrote nothing; the import brought the database's run, with its MLflow id."""
    import gittrack

    [run] = gittrack.Client(s.cwd).list_runs("churn")
    return run.data.params == {"depth": "4"} and bool(run.data.tags["mlflow.imported_run_id"])


MIGRATE = Page(
    "docs/migrate.md",
    setup=migrate_setup,
    skip={
        "pip install 'gittrack[mlflow]'": "the extra is installed with .[dev]",
        "gittrack import mlflow [--tracking-uri URI] [-e EXPERIMENT...] [--registry/--no-registry] [--dry-run] "
        "[--json]": "a synopsis: the steps below run the command",
        "gittrack import dvc-exps [-e NAME] [--all-commits] [--json]": "a synopsis: the DVC section runs it",
        "gittrack export mlflow --tracking-uri URI [-e EXPERIMENT...] [--registry/--no-registry] [--json]": (
            "a synopsis: 'Back to MLflow' runs it"
        ),
    },
    after={"gittrack import mlflow --tracking-uri sqlite:///path/to/mlflow.db": imported_once},
)


# -- docs/promotions.md ----------------------------------------------------------------------------


def promotions_setup(s: Scenario) -> None:
    """The scientist's clone with churn v0.0.1 and v0.0.2 shared; the remote runs the server hook."""
    team_project(s)
    model_runs(s, 2)
    s.sh(f"gittrack models register churn --run {s.run(0)} && gittrack models register churn --run {s.run(1)}")
    s.sh("gittrack push")
    s.sh("gittrack hooks install --server", cwd=s.remote)


def registry_yaml(s: Scenario, block) -> None:
    """The example registry.yaml, committed on main of a scratch clone, is the policy in force."""
    import json

    scratch = s.tmp / "scratch"
    s.sh(f"git clone -q {s.remote} {scratch}")
    (scratch / "registry.yaml").write_text(block.code)
    s.sh("git add registry.yaml && git commit -q -m 'Add the registry'", cwd=scratch)
    churn = json.loads(s.sh("gittrack promotions policy churn --json", cwd=scratch))["in_force"]
    assert churn["applies"] == "churn"
    assert churn["guard"] == ["production"]
    assert [rule["metric"] for rule in churn["no_worse"]] == ["auc", "rmse"]
    assert churn["thresholds"] == [{"metric": "auc", "op": ">=", "value": 0.75}]
    other = json.loads(s.sh("gittrack promotions policy fraud --json", cwd=scratch))["in_force"]
    assert (other["applies"], other["guard"], other["no_worse"]) == ("*", ["production"], [])
    assert "churn production: registry.yaml wants v0.0.2" in s.sh("gittrack promotions status", cwd=scratch, status=1)


REQUEST = "promote/churn/production/v0.0.2"
PROMOTIONS = Page(
    "docs/promotions.md",
    setup=promotions_setup,
    values={"MODEL": "churn", "/srv/git/project.git": lambda s: str(s.remote)},
    checks={"# gittrack registry: desired stage holders": registry_yaml},
    before={
        "gittrack models promote churn v0.0.2 production --request --push [--report report.md]": (
            "git push -q origin main"
        ),
        "gittrack pull origin": f"git clone -q ../remote.git ../ci\ncd ../ci\ngit checkout -q {REQUEST}",
        "gittrack promotions apply --push [REMOTE]": (  # the pull request is merged
            f"git checkout -q main\ngit merge -q --no-ff -m 'Merge {REQUEST}' origin/{REQUEST}\ngit push -q origin main"
        ),
    },
    expect={
        "gittrack promotions policy churn --no-worse rmse:min --no-worse accuracy:max:0.01 --threshold auc:ge:0.8 "
        "--guard production --commit": ["in force here now; the server hook and CI enforce it once main is pushed"],
        "gittrack models promote churn v0.0.2 production --request --push [--report report.md]": [
            f"created branch {REQUEST}",
            "**Policy: PASS**",
        ],
        "gittrack promotions check --base origin/main --remote origin [--report report.md]": ["**Check: PASS**"],
        "gittrack promotions apply --push [REMOTE]": ["created tag churn#production#"],
        "gittrack hooks install --server --path /srv/git/project.git": ["pre-receive"],
    },
    after={"gittrack promotions apply --push [REMOTE]": lambda s: "in sync" in s.sh("gittrack promotions status")},
)


# -- docs/registry.md ------------------------------------------------------------------------------


def registry_setup(s: Scenario) -> None:
    plain_project(s)
    s.sh("gittrack init --commit")
    model_runs(s, 6)
    s.sh(f"gittrack models register fraud --run {s.run(5)} && gittrack models register spam --run {s.run(5)}")


def tag_message(s: Scenario, block) -> None:
    """The version tag's message is the page's, run id aside."""
    shown = s.sh("git tag -l --format='%(contents)' churn@v0.0.1").rstrip("\n")
    assert shown == s.fill(block.code, shell=False).rstrip("\n"), shown


def described_models(s: Scenario) -> None:
    """The new model and churn have their descriptions; churn's team tag is gone, v0.0.1 has its own."""
    client = s.ns["client"]
    upsell, churn = client.get_model_metadata("upsell"), client.get_model_metadata("churn")
    assert (upsell.description, upsell.tags) == ("predicts upsell", {"team": "ml"}), upsell
    assert (churn.description, churn.tags) == ("predicts churn", {}), churn
    assert (s.ns["_"].description, s.ns["_"].tags) == ("first", {"validated": "yes"}), s.ns["_"]


REGISTRY = Page(
    "docs/registry.md",
    setup=registry_setup,
    prelude="import gittrack",
    values={
        "01m8eehfryh39g4skp466cbd0h": lambda s: s.run(0),
        "01m8eehfryh3": lambda s: s.run(0)[:12],
        "<run>": lambda s: s.run(1) if "v1.0.0" in s.line else s.run(2),
        "MODEL": lambda s: "fraud" if s.line.startswith("gittrack models deprecate") else "churn",
        "RUN": lambda s: s.run(3),
        "VERSION": "v1.0.0",
        "STAGE": "production",
        "DIR": lambda s: str(s.tmp / "model"),
    },
    replace={'client.deprecate_model("churn")  # the whole model': 'client.deprecate_model("spam")'},
    checks={"Registering artifact churn version v0.0.1": tag_message},
    before={
        'client.promote_model("churn", "v0.0.2"': lambda s: s.sh(
            f"gittrack models register churn --run {s.run(4)} --version v0.0.2"
        ),
        "gittrack models list [--json]": "gittrack models promote churn v1.1.0 production",
    },
    expect={
        "gittrack models register MODEL --run RUN [--artifact model] [--version vX.Y.Z | --bump major|minor|patch] "
        "[-m MESSAGE]": ["churn v1.1.1"],
        "gittrack models list [--json]": ["churn", "production: v1.1.0"],
        "gittrack models lineage MODEL@VERSION": ["churn v1.0.0"],
    },
    after={
        "gittrack.get_model_version(": lambda s: s.ns["model"].predict([[1.0]])[0] == 3.0,
        'client.create_registered_model("upsell"': described_models,
        "gittrack models get MODEL@STAGE -o DIR": lambda s: (s.tmp / "model" / "model" / "model.yaml").is_file(),
    },
)


# -- docs/search.md --------------------------------------------------------------------------------


def search_setup(s: Scenario) -> None:
    import gittrack

    plain_project(s)
    client = gittrack.Client(s.cwd)
    for name, model, lr, rmse in (
        ("baseline", "rf", 0.1, 0.7),
        ("sweep-1", "gbm", 0.05, 0.9),
        ("sweep-2", "rf", 0.2, 0.75),
    ):
        run_id = client.create_run("taxi-duration", run_name=name, params={"model": model, "lr": lr}).info.run_id
        for step in range(3):
            client.log_metrics(run_id, {"rmse": rmse + 0.1 * (2 - step), "val_loss": 1.0 / (step + 1)}, step=step)
        client.log_metrics(run_id, {"val loss": 1e-4, "auc": 1 - rmse / 10, "f1": 0.85})
        client.set_tag(run_id, "team", "pricing")
        if name == "baseline":  # what the dataset filter finds
            client.log_dataset(run_id, "train", digest="5f2e8a1c", context="training", source="data/trips.csv")
        client.set_terminated(run_id)


def every_filter(s: Scenario, block) -> None:
    """Each line of the grammar's examples is a filter that parses and finds runs."""
    import gittrack

    for line in block.code.splitlines():
        found = gittrack.search_runs(filter_string=line.split(" -- ")[0])
        assert len(found) > 0 or "attributes.run_name LIKE 'sweep-%'" in line, f"no run for {line}"


SEARCH = Page(
    "docs/search.md",
    setup=search_setup,
    prelude="""
import gittrack
repo = "."
run = gittrack.get_run("baseline").info.run_id
key = "val_loss"
""",
    replace={"search_runs(...)": "search_runs()"},
    values={
        "01m8ecr0m24a": lambda s: s.run(2)[:12],
        "RUN": lambda s: s.run(s.index),
        "RUN_A": lambda s: s.run(0),
        "RUN_B": lambda s: s.run(1),
    },
    checks={"metrics.rmse < 0.8 and params.model = 'rf'": every_filter},
    after={
        "import gittrack": lambda s: list(s.ns["_"]["run_name"]) == ["baseline", "sweep-2"],
        "gittrack runs list -c run_name -c 'params.*' -c metrics.rmse --csv > runs.csv": lambda s: (
            (s.cwd / "runs.csv").read_text().splitlines()[0] == "run_name,params.lr,params.model,metrics.rmse"
        ),
        'gittrack.compare_runs(["baseline",': lambda s: list(s.ns["_"].loc["metrics.rmse"])[-1] == s.run(0),
    },
    expect={'gittrack runs list -f "metrics.rmse < 0.8" -s "metrics.rmse ASC" -n 5': ["baseline", "sweep-2"]},
)


# -- docs/serving.md -------------------------------------------------------------------------------


def churn_pipeline(s: Scenario) -> None:
    """churn v0.0.1 in production: a scikit-learn pipeline over age, income and plan (1 when the
    income is over 50), logged through gittrack.mlflow with MLflow's signature."""
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    import gittrack
    import gittrack.mlflow as mlflow
    from gittrack.mlflow.models import infer_signature

    rng = np.random.default_rng(0)
    data = pd.DataFrame({"age": rng.integers(18, 80, 200), "income": rng.normal(50, 10, 200).round(2),
                         "plan": rng.choice(["basic", "pro"], 200)})  # fmt: skip
    columns = ColumnTransformer([("num", StandardScaler(), ["age", "income"]),
                                 ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"])])  # fmt: skip
    model = make_pipeline(columns, LogisticRegression()).fit(data, (data["income"] > 50).astype(int))
    s.chdir(s.cwd)
    mlflow.set_experiment("churn")
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(model, name="model", signature=infer_signature(data, model.predict(data)))
    gittrack.reset_state()
    s.sh(f"gittrack models register churn --run {run.info.run_id} && gittrack models promote churn v0.0.1 production")


def serving_setup(s: Scenario) -> None:
    plain_project(s)
    s.sh("gittrack init --commit")
    churn_pipeline(s)
    (s.cwd / "customers.csv").write_text("age,income,plan\n34,61.5,pro\n58,38.0,basic\n41,70.2,basic\n")


def start_background_server(s: Scenario) -> None:
    """The server the page's requests go to (the synopsis' own server stopped after one request)."""
    import atexit
    import re
    import time

    log = s.tmp / "serve.log"
    with open(log, "w") as out:
        process = subprocess.Popen(["gittrack", "models", "serve", "churn@production", "--port", "0"], cwd=s.cwd,
                                   env=s.env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    atexit.register(process.kill)
    s.ns["_server"] = process
    deadline = time.monotonic() + 60
    while not re.search(r"http://127\.0\.0\.1:\d+", log.read_text()):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    s.ns["_url"] = re.search(r"http://127\.0\.0\.1:\d+", log.read_text())[0]


def stop_background_server(s: Scenario) -> bool:
    process = s.ns["_server"]
    process.terminate()
    process.wait(timeout=30)
    return (s.cwd / "scores.csv").read_text().splitlines() == ["prediction", "1", "0", "1"]


SERVE_SYNOPSIS = (
    "gittrack models serve MODEL[@STAGE|:VERSION]|runs:/RUN/PATH [--host 127.0.0.1] [--port 5000] [--workers 1] "
    "[--fixed] [--poll-interval 2] [--pull [REMOTE]] [--pull-interval 60] [--max-body-mb 64] [--allowed-host NAME] "
    "[--repo PATH]"
)
SERVING = Page(
    "docs/serving.md",
    setup=serving_setup,
    values={"MODEL": "churn", "INPUT": "customers.csv", "http://127.0.0.1:5000": lambda s: str(s.ns["_url"])},
    serve={SERVE_SYNOPSIS: "/ping"},
    expect={SERVE_SYNOPSIS: ["gittrack models serve: churn -> v0.0.1", "following it; listening on http://127.0.0.1:"]},
    after={
        SERVE_SYNOPSIS: start_background_server,
        "import pandas as pd": lambda s: s.ns["_"] == ([1, 0], "v0.0.1"),
        "gittrack models predict churn@production -i customers.csv -o scores.csv --chunk-size 2": (
            stop_background_server
        ),
    },
)


# -- docs/sweeps.md --------------------------------------------------------------------------------


def write_block(name: str):
    """A check that writes the block to the project as ``name`` (the page shows the file)."""

    def check(s: Scenario, block) -> None:
        (s.cwd / name).write_text(block.code)
        if name.endswith(".yaml"):
            from gittrack.sweeps import load_space

            assert [p.name for p in load_space(s.cwd / name)] == ["lr", "depth", "model"]

    return check


def newest_sweep(s: Scenario) -> str:
    from gittrack.sweeps import list_sweeps

    return list_sweeps(s.cwd)[0]["sweep_id"]


def sweep_runs_listed(s: Scenario) -> bool:
    """The runs list shows the 8 trials and the parent (a header, a rule, 9 rows)."""
    return len(s.output.strip().splitlines()) == 11


SWEEPS = Page(
    "docs/sweeps.md",
    setup=plain_project,
    values={"SWEEP": newest_sweep},
    checks={"lr: {type: float": write_block("space.yaml"), "import argparse": write_block("train.py")},
    expect={
        "gittrack sweep -e taxi --space space.yaml --trials 8 --workers 2 --metric rmse --seed 42 -q -- python "
        "train.py --lr {lr} --depth {depth} --model {model}": ["sweep: ", "8 of 8 trials finished"],
        "gittrack sweep status SWEEP": ["8 of 8 trials finished", "COMPLETE"],
        "gittrack sweep stop SWEEP": ["stopped after 8 of 8 trials"],
        "gittrack sweep --resume SWEEP --workers 2 -q": ["8 of 8 trials finished"],
    },
    after={
        "gittrack runs list -f \"tags.gittrack.sweep = 'SWEEP'\" -c tags.gittrack.trial -c params.lr -c "
        "metrics.rmse -c status": sweep_runs_listed,
        "import gittrack": lambda s: s.ns["result"].finished == 20 and s.ns["result"].best_run_id is not None,
    },
)


# -- docs/sharing.md -------------------------------------------------------------------------------


def sharing_setup(s: Scenario) -> None:
    """The author's clone with two runs of train.py to push; the remote runs the server hook."""
    team_project(s)
    s.sh("gittrack hooks install --server", cwd=s.remote)
    s.sh("gittrack run -e taxi -- python train.py --lr 0.01 && gittrack run -e taxi -- python train.py --lr 0.05")


def remote_setup_writes(s: Scenario, block) -> None:
    """``gittrack remote setup`` adds exactly the lines the page shows to .git/config."""
    s.sh("gittrack remote setup")
    for line in block.code.splitlines()[1:]:
        key, value = (part.strip() for part in line.split(";")[0].split("=", 1))
        assert value in s.sh(f"git config --get-all remote.origin.{key}").split("\n"), line


def report_fields(s: Scenario) -> bool:
    """The push report has every field the page's comment names."""
    code = next(b.code for b in blocks(ROOT / "docs/sharing.md") if ".push(" in b.code)
    comment = "".join(line.split("#", 1)[1] for line in code.splitlines() if "#" in line)
    fields = re.findall(r"\.(\w+)", comment)
    report = s.ns["client"].remote.push("origin")
    return len(fields) == 9 and all(hasattr(report, field) for field in fields)


SHARING = Page(
    "docs/sharing.md",
    setup=sharing_setup,
    values={
        "RUN": lambda s: s.run(-1),
        "refs/runs/taxi/<run-id>": lambda s: __import__("gittrack").get_run(s.run(0)).info.commit,
    },
    before={
        "gittrack pull [REMOTE] [-e EXPERIMENT] [--artifacts]": "git clone -q ../remote.git ../teammate\ncd ../teammate"
    },
    checks={'[remote "origin"]': remote_setup_writes},
    expect={
        "gittrack push [REMOTE] [RUN...] [-e EXPERIMENT] [--no-artifacts] [--pack | --no-pack]": ["2 run(s) sent"],
        "gittrack pull [REMOTE] [-e EXPERIMENT] [--artifacts]": ["2 run(s) new"],
        "gittrack runs pack [EXPERIMENT...]": ["taxi: packed 2 run(s)"],
        "gittrack reproduce RUN [--tolerance REL] [-t KEY=REL ...] [--keep] [--allow-outside] [--yes]": [
            "DVC data restored",
            "reproduced",
        ],
    },
    after={
        "dvc pull": lambda s: (s.cwd / ".gittrack/run/artifacts/model/model.yaml").is_file(),
        "import gittrack": report_fields,
    },
)


# -- docs/tracking.md ------------------------------------------------------------------------------


def tracking_setup(s: Scenario) -> None:
    taxi_project(s, s.tmp / "my-project")
    s.sh("git init -q && git add . && git commit -q -m 'Train on the trips'", cwd=s.tmp / "my-project")


TRACKING = Page(
    "docs/tracking.md",
    setup=tracking_setup,
    prelude="""
import itertools
_points = itertools.count(1)

def train_one_epoch():
    n = next(_points)
    return 1.0 / n, 2.0 / n

def evaluate(lr):
    return 1.0 - lr
""",
    skip={"pip install gittrack": "the suite runs the gittrack it tests"},
    values={
        "path/to/repo": ".",
        "taxi-run-name": lambda s: s.ns["run"].info.run_name,
        "COMMAND": "python train.py",
        "RUN": lambda s: s.run(0),
        "<run-id>": lambda s: s.run(-1, "taxi"),
        "KEY": "reviewed",
        "VALUE": "yes",
        "NAME": "best-lr",
        "TEXT": "'kept for the weekly report'",
    },
    before={"git for-each-ref refs/runs/": "gittrack run -e taxi -- python train.py --lr 0.2"},
    after={"import gittrack": lambda s: s.output.split()[1:] == ["FINISHED", "0.06666666666666667"]},
    expect={"gittrack runs list -f \"tags.reviewed = 'yes'\"": ["best-lr"]},  # the run edited just before
)


# -- docs/ui.md ----------------------------------------------------------------------------------


def ui_setup(s: Scenario) -> None:
    plain_project(s)
    s.sh("gittrack init --commit")
    model_runs(s, 3)


UI = Page(
    "docs/ui.md",
    setup=ui_setup,
    skip={"pip install 'gittrack[ui]'": "the suite's environment has the ui extra (through dev)"},
    serve={"gittrack ui [--host 127.0.0.1] [--port 5151] [--repo PATH] [--open] [--allow-write]": "/api/experiments"},
    expect={
        "gittrack ui [--host 127.0.0.1] [--port 5151] [--repo PATH] [--open] [--allow-write]": [
            "gittrack ui: http://127.0.0.1:",
            '{"experiments":["churn"]}',
        ],
        "gittrack report [RUN... | -e EXPERIMENT -f FILTER] [-n 20] -o report.html [--title TEXT]": [
            "report of 3 run(s) written to report.html"
        ],
    },
    after={
        "gittrack report [RUN... | -e EXPERIMENT -f FILTER] [-n 20] -o report.html [--title TEXT]": lambda s: (
            "plotly" in (s.cwd / "report.html").read_text()
        )
    },
)


# -- docs/server.md ------------------------------------------------------------------------------

SERVER = Page(
    "docs/server.md",
    setup=plain_project,
    serve={
        "gittrack server [--host 127.0.0.1] [--port 5000] [--repo PATH] [--workers 1] [--auth FILE] [--ui] "
        "[--push-to REMOTE] [--push-delay 2] [--pull-interval 60]": "/api/2.0/mlflow/experiments/search"
    },
    expect={
        "gittrack server [--host 127.0.0.1] [--port 5000] [--repo PATH] [--workers 1] [--auth FILE] [--ui] "
        "[--push-to REMOTE] [--push-delay 2] [--pull-interval 60]": [
            "gittrack server: http://127.0.0.1:",
            '"name":"default"',
        ],
        "echo 'correct horse battery staple' | gittrack server hash-password": ["$2b$"],
    },
)


# -- the tests -------------------------------------------------------------------------------------

# -- docs/team-server.md --------------------------------------------------------------------------


def permissions_file(s: Scenario, block: Block) -> None:
    """The page's permissions file parses, and becomes permissions.yaml for the commands after it."""
    from gittrack._gitserver import permissions

    perms = permissions.parse(block.code)
    assert perms.experiment("rita", "fraud") == permissions.NONE
    (s.cwd / "permissions.yaml").write_text(block.code)


TEAM_SERVER = Page(
    "docs/team-server.md",
    setup=plain_project,
    values={"AKIAEXAMPLE": "AKIAEXAMPLE"},  # an example key, not a placeholder
    checks={"groups:": permissions_file},
    before={"gittrack init --dvc-remote ssh://dvc@storage.example.com/srv/dvc/team --commit": "rm .dvc/config.local"},
    expect={
        "gittrack server-rules permissions.yaml --kind gitolite-rc": ["#!"],
        "gittrack init --dvc-remote s3://team-artifacts/dvc --commit": ["s3://team-artifacts/dvc"],
    },
    after={
        "gittrack server-rules permissions.yaml --repo team > team.conf": lambda s: (
            "repo team" in (s.cwd / "team.conf").read_text()
        )
    },
)

WITHOUT_BLOCKS = [Page("docs/ci.md"), Page("docs/security.md")]
SCENARIOS = {
    page.path: page
    for page in [
        README,
        ARCHITECTURE,
        AUTOLOG,
        DATA,
        FORMAT,
        MIGRATE,
        MLFLOW,
        PROMOTIONS,
        REGISTRY,
        SEARCH,
        SERVING,
        SERVER,
        SHARING,
        SWEEPS,
        TEAM_SERVER,
        TRACKING,
        UI,
        *WITHOUT_BLOCKS,
    ]
}


def test_every_page_has_a_scenario() -> None:
    assert sorted(SCENARIOS) == sorted(PAGES)  # a new page gets its entry above, even with no block yet


@pytest.mark.slow
@pytest.mark.parametrize("path", PAGES)
def test_page(path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = SCENARIOS[path]
    try:
        Scenario(page, tmp_path, monkeypatch.chdir).run_page()
    finally:
        if "gittrack.autologging" in sys.modules:  # a page that turned autologging on: off, its runs ended
            import gittrack

            gittrack.autolog(disable=True)


def test_blocks_are_read_with_their_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Text.\n\n```sh\ngittrack init\n```\n\n<!-- no-test: needs a cloud bucket -->\n```python\nx = 1\n```\n\n"
        "- a list item:\n\n  ```sh\n  git checkout main\n  dvc checkout\n  ```\n\n````text\n```\n````\n"
    )
    found = blocks(page)
    assert [(b.lang, b.line, b.skip) for b in found] == [
        ("sh", 3, None),
        ("python", 8, "needs a cloud bucket"),
        ("sh", 14, None),
        ("text", 19, None),
    ]
    assert found[2].code == "git checkout main\ndvc checkout\n"
    assert found[3].code == "```\n"
    page.write_text("<!-- no-test: -->\n```sh\ngittrack init\n```\n")
    with pytest.raises(ValueError, match="needs a reason"):
        blocks(page)
    page.write_text("```sh\ngittrack init\n")
    with pytest.raises(ValueError, match="never closed"):
        blocks(page)


def test_synopses_become_commands() -> None:
    code = (
        "gittrack push [REMOTE] \\\n    [--pack | --no-pack]   # a comment\n\ngittrack runs list [-e X]...\n  [--all]\n"
    )
    assert commands(code) == ["gittrack push [REMOTE] [--pack | --no-pack]", "gittrack runs list [-e X]... [--all]"]
    assert commands("git log  # '#' in a comment\necho '# kept'\n") == ["git log", "echo '# kept'"]
    assert alternatives("gittrack artifacts list RUN / get RUN -o DIR") == [
        "gittrack artifacts list RUN",
        "gittrack artifacts get RUN -o DIR",
    ]
    assert alternatives("gittrack push / gittrack pull") == ["gittrack push", "gittrack pull"]
    assert minimal("gittrack runs compare RUN RUN... [--diff-only]") == "gittrack runs compare RUN RUN"
    assert (
        minimal("gittrack registry policy MODEL|'*' [--no-worse M:min|max[:TOL]]...")
        == "gittrack registry policy MODEL"
    )
    assert minimal("gittrack run [-p KEY=VALUE ...] -- COMMAND [ARGS...]") == "gittrack run -- COMMAND"
    assert minimal("gittrack runs list --csv | head -3") == "gittrack runs list --csv | head -3"
    assert option_words("gittrack runs list [-s 'a ASC|DESC'] [--json | --csv=x] -- python -v") == (
        ["gittrack", "runs", "list"],
        ["-s", "--json", "--csv"],
    )
    where = Block("page.md", "sh", "", 1)
    check_options("gittrack push [REMOTE] [--pack | --no-pack] [-e EXPERIMENT]", where)
    with pytest.raises(AssertionError, match="gittrack runs list has no option --sorted"):
        check_options("gittrack runs list [--sorted COLUMN]", where)
    with pytest.raises(AssertionError, match="names no gittrack command"):
        check_options("gittrack runs lists", where)


def test_load_model_logged_by_the_active_run(repo: Path) -> None:
    import gittrack

    subprocess.run([str(BIN / "gittrack"), "init", "--commit"], check=True, capture_output=True)
    with gittrack.start_run() as run:
        gittrack.log_model(Doubler(), name="model")
        assert gittrack.load_model(f"runs:/{run.run_id}/model").predict([1]) == [2]


class Doubler:
    def predict(self, values):
        return [2 * v for v in values]


def test_a_policy_rule_given_twice_is_kept_once(repo: Path) -> None:
    policy = [str(BIN / "gittrack"), "promotions", "policy", "churn"]
    subprocess.run([*policy, "--threshold", "auc:ge:0.8", "--commit"], check=True, capture_output=True)
    subprocess.run([*policy, "--threshold", "auc:>=:0.8"], check=True, capture_output=True)
    shown = subprocess.run(policy, capture_output=True, text=True, check=True).stdout
    assert "auc >= 0.8, auc >= 0.8" not in shown


def test_checkout_of_a_run_whose_artifact_folder_the_project_ignores(repo: Path, tmp_path: Path) -> None:
    import gittrack

    gt = str(BIN / "gittrack")
    (repo / ".gitignore").write_text("plots/\n")  # a common rule: outputs stay out of git
    subprocess.run(["git", "commit", "-q", "-am", "Ignore plots"], check=True)
    subprocess.run([gt, "init", "--commit"], check=True, capture_output=True)
    (tmp_path / "curve.csv").write_text("epoch,loss\n0,1.0\n")
    with gittrack.start_run(run_name="with-plots"):
        gittrack.log_artifact(tmp_path / "curve.csv", "plots")
    result = subprocess.run([gt, "checkout", "with-plots"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr  # today: exit 1, '... is git-ignored', HEAD left detached
    assert (repo / ".gittrack/run/artifacts/plots/curve.csv").read_text() == "epoch,loss\n0,1.0\n"


RUNNER_PAGE = """
```sh
echo made > out.txt   # a comment
cat out.txt
```

```text
made
```

```python
with open("out.txt") as f:
    text = f.read().strip()
text
```

<!-- no-test: shows a failure on purpose -->
```sh
exit 3
```

```sh
test -f FILE
```
"""


def test_the_runner_checks_exit_codes_outputs_and_what_it_was_told(tmp_path: Path, monkeypatch) -> None:
    page = tmp_path / "page.md"
    page.write_text(RUNNER_PAGE)
    (tmp_path / "run").mkdir()
    told = {"values": {"FILE": "out.txt"}, "after": {"with open": lambda s: s.ns["_"] == "made"}}
    Scenario(Page(str(page), **told), tmp_path / "run", monkeypatch.chdir).run_page()
    (tmp_path / "again").mkdir()
    with pytest.raises(AssertionError, match=r"`test -f nothing.txt` exited with 1, not 0"):
        Scenario(Page(str(page), values={"FILE": "nothing.txt"}), tmp_path / "again", monkeypatch.chdir).run_page()
    (tmp_path / "stale").mkdir()
    with pytest.raises(AssertionError, match=r"names text the page no longer has.*'cat made\.txt'"):
        Scenario(Page(str(page), values={"FILE": "out.txt"}, exits={"cat made.txt": 1}), tmp_path / "stale",
                 monkeypatch.chdir).run_page()  # fmt: skip
    page.write_text(RUNNER_PAGE.replace("made\n```\n\n```python", "other\n```\n\n```python"))
    (tmp_path / "output").mkdir()
    with pytest.raises(AssertionError, match=r"the output lacks \['other'\]"):
        Scenario(Page(str(page), **told), tmp_path / "output", monkeypatch.chdir).run_page()
