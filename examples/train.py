"""A small training script: a scikit-learn regressor for taxi-trip durations, trained by epochs.

Run it under gittrack (``gittrack run -- python train.py --lr 0.01``) or on its own: either way
``gittrack.start_run()`` records its params, metric histories, data input, a learning-curve
artifact and the model.
"""

import argparse
import csv
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import SGDRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import gittrack

DATA = Path("data/trips.csv")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--alpha", type=float, default=0.0001)
    args = parser.parse_args()

    trips = pd.read_csv(DATA)
    features = trips[["distance_km", "hour", "passengers"]]
    target = trips["duration_min"]
    x_train, y_train = features[:1600], target[:1600]
    x_val, y_val = features[1600:], target[1600:]

    with gittrack.start_run(params={"lr": args.lr, "epochs": args.epochs, "alpha": args.alpha}):
        gittrack.set_tag("model", "sgd-regressor")
        gittrack.log_input(DATA, name="trips")
        scaler = StandardScaler().fit(x_train)
        regressor = SGDRegressor(eta0=args.lr, alpha=args.alpha, learning_rate="constant", random_state=0)
        curve = []
        for epoch in range(args.epochs):
            regressor.partial_fit(scaler.transform(x_train), y_train)
            train_rmse = float(np.sqrt(np.mean((regressor.predict(scaler.transform(x_train)) - y_train) ** 2)))
            val_rmse = float(np.sqrt(np.mean((regressor.predict(scaler.transform(x_val)) - y_val) ** 2)))
            gittrack.log_metrics({"train_rmse": train_rmse, "val_rmse": val_rmse}, step=epoch)
            curve.append((epoch, train_rmse, val_rmse))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "learning_curve.csv"
            with path.open("w", newline="") as out:
                csv.writer(out).writerows([("epoch", "train_rmse", "val_rmse"), *curve])
            gittrack.log_artifact(path, "plots")
        model = make_pipeline(scaler, regressor)
        gittrack.log_model(model, name="model", input_example=x_val.head(3))
        print(f"lr={args.lr} epochs={args.epochs}: val_rmse={val_rmse:.3f}")


if __name__ == "__main__":
    main()
