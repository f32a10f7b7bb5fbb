"""The runs and the searches compared between MLflow and gittrack (standard library only, so that
MLflow's own environment can import it: see record.py)."""

from __future__ import annotations

import math
import random

MODELS = ["rf", "gbm", "linear", "RF", "rf-deep"]
TEAMS = ["ml", "ops", "ML", None]
STATUSES = ["FINISHED", "FINISHED", "FAILED", "KILLED"]
DATASETS = [("train", "ab12cd34", "training"), ("val", "ef56ab78", "eval"), ("Train-2", "ab99ff00", "training")]


def runs() -> list[dict]:
    """60 runs: params, metrics (NaN, inf and missing included), tags, statuses, datasets."""
    rng = random.Random(7)
    out = []
    for i in range(60):
        metrics = {}
        roll = rng.random()
        if roll < 0.1:
            metrics["rmse"] = math.nan
        elif roll < 0.15:
            metrics["rmse"] = math.inf
        elif roll < 0.85:
            metrics["rmse"] = round(rng.uniform(0, 1), 3)
        if rng.random() < 0.6:
            metrics["auc"] = round(rng.uniform(0.5, 1), 3)
        params = {"model": rng.choice(MODELS), "depth": str(rng.randint(1, 12))}
        if rng.random() < 0.7:
            params["lr"] = rng.choice(["0.1", "0.01", "0.001", "1e-3"])
        team = rng.choice(TEAMS)
        tags = {"team": team} if team else {}
        if rng.random() < 0.3:
            tags["stage"] = rng.choice(["sweep", "final"])
        datasets = [d for d in DATASETS if rng.random() < 0.4]
        out.append({"name": f"run-{i:02d}", "params": params, "metrics": metrics, "tags": tags,
                    "status": rng.choice(STATUSES), "datasets": datasets})  # fmt: skip
    return out


# MLflow's own filter forms (from its search-utils and store tests), adapted to these runs
FILTERS = [
    "metrics.rmse < 0.5",
    "metrics.rmse <= 0.5",
    "metrics.rmse > 0.5",
    "metrics.rmse >= 0.25 and metrics.rmse <= 0.75",
    "metrics.rmse = 0.5",
    "metrics.rmse != 0.5",
    "metric.rmse > 0.9",
    "metrics.auc > 0.8 and metrics.rmse < 0.3",
    "metrics.rmse > 1e10",
    "metrics.rmse < -1",
    "`metric`.rmse >= 0.1",
    "`metrics`.auc < 0.6",
    "params.model = 'rf'",
    "params.model != 'rf'",
    "param.model = 'linear'",
    "params.model LIKE 'rf%'",
    "params.model LIKE '%F'",
    "params.model ILIKE 'rf%'",
    "params.model ILIKE '%-%'",
    "params.depth = '3'",
    "params.lr = '0.1'",
    "params.lr != '0.1'",
    "params.`lr` LIKE '%e%'",
    "params.\"model\" = 'gbm'",
    "tags.team = 'ml'",
    "tags.team != 'ml'",
    "tag.team ILIKE 'ml'",
    "tags.team LIKE 'o%'",
    "tags.stage = 'sweep' and tags.team = 'ops'",
    "tags.`stage` != 'final'",
    "attributes.status = 'FINISHED'",
    "attributes.status != 'FINISHED'",
    "attributes.status IN ('FAILED', 'KILLED')",
    "attributes.status NOT IN ('FINISHED')",
    "status = 'FAILED'",
    "attributes.run_name = 'run-07'",
    "attributes.run_name LIKE 'run-1%'",
    "attributes.run_name ILIKE 'RUN-2%'",
    "attributes.run_name IN ('run-01', 'run-02', 'run-33')",
    "run_name = 'run-05' AND status = 'FINISHED'",
    "`Run name` = 'run-11'",
    "`run name` LIKE 'run-4%'",
    "`Run Name` ILIKE '%9'",
    "attribute.run_name != 'run-00'",
    "tags.mlflow.runName = 'run-12'",
    "tags.mlflow.runName LIKE 'run-3%'",
    "tags.`mlflow.runName` ILIKE 'RUN-5_'",
    "attributes.start_time > 0",
    "Created > 0",
    "attributes.end_time > 0",
    "attributes.artifact_uri LIKE '%'",
    "dataset.name = 'train'",
    "dataset.name != 'train'",
    "dataset.name IN ('train', 'val')",
    "dataset.name LIKE 'Tr%'",
    "dataset.name ILIKE 'tr%'",
    "dataset.context = 'eval'",
    "dataset.context IN ('training')",
    "datasets.digest = 'ab12cd34'",
    "datasets.digest LIKE 'ab%'",
    "dataset.name = 'train' AND dataset.context = 'training'",
    "dataset.name = 'val' AND metrics.rmse < 0.5",
]

ORDERS = [
    ["metrics.rmse ASC", "attributes.run_name ASC"],
    ["metrics.rmse DESC", "attributes.run_name ASC"],
    ["metrics.auc DESC", "attributes.run_name DESC"],
    ["params.model ASC", "attributes.run_name ASC"],
    ["params.lr DESC", "attributes.run_name ASC"],
    ["tags.team ASC", "attributes.run_name ASC"],
    ["attributes.run_name DESC"],
    ["attributes.status ASC", "attributes.run_name ASC"],
]


def random_filters(count: int = 80) -> list[str]:
    """Random filters MLflow accepts: 1 to 3 comparisons joined by AND."""
    rng = random.Random(11)
    makers = [
        lambda: f"metrics.rmse {rng.choice(['<', '<=', '>', '>=', '=', '!='])} {rng.choice([0.1, 0.5, 0.9, 1, 0])}",
        lambda: f"metrics.auc {rng.choice(['<', '>', '!='])} {rng.choice([0.6, 0.75, 0.9])}",
        lambda: f"params.model {rng.choice(['=', '!=', 'LIKE', 'ILIKE'])} '{rng.choice(['rf', 'RF', 'r%', '%m'])}'",
        lambda: f"params.depth {rng.choice(['=', '!='])} '{rng.randint(1, 12)}'",
        lambda: f"tags.team {rng.choice(['=', '!=', 'ILIKE'])} '{rng.choice(['ml', 'ops', 'ML'])}'",
        lambda: f"attributes.status {rng.choice(['=', '!='])} '{rng.choice(['FINISHED', 'FAILED', 'KILLED'])}'",
        lambda: f"dataset.{rng.choice(['name', 'context'])} = '{rng.choice(['train', 'val', 'eval', 'training'])}'",
        lambda: f"attributes.run_name LIKE 'run-{rng.randint(0, 5)}%'",
    ]
    out = []
    for _ in range(count):
        out.append(" and ".join(rng.choice(makers)() for _ in range(rng.randint(1, 3))))
    return out
