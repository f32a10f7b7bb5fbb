"""A small training script: linear regression by gradient descent on synthetic taxi-trip data.

Run it under gittrack (``gittrack run -- python train.py --lr 0.1``) or on its own: either way
``gittrack.start_run()`` records its params and metric histories.
"""

import argparse

import numpy as np

import gittrack


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Trip features (distance km, hour of day, passengers) and durations in minutes."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.uniform(0.5, 20, n), rng.integers(0, 24, n), rng.integers(1, 5, n)])
    y = 3.0 + 2.5 * x[:, 0] + 0.3 * x[:, 1] + 0.5 * x[:, 2] + rng.normal(0, 2.0, n)
    return x, y


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--l2", type=float, default=0.0)
    args = parser.parse_args()

    x, y = make_data(2000)
    mean, std = x.mean(axis=0), x.std(axis=0)
    x = (x - mean) / std
    x_train, y_train, x_val, y_val = x[:1600], y[:1600], x[1600:], y[1600:]

    with gittrack.start_run(params={"lr": args.lr, "epochs": args.epochs, "l2": args.l2}):
        gittrack.set_tag("model", "linear-regression")
        w, b = np.zeros(x.shape[1]), 0.0
        for epoch in range(args.epochs):
            err = x_train @ w + b - y_train
            w -= args.lr * (x_train.T @ err / len(err) + args.l2 * w)
            b -= args.lr * err.mean()
            train_loss = float((err**2).mean())
            val_rmse = float(np.sqrt(((x_val @ w + b - y_val) ** 2).mean()))
            gittrack.log_metrics({"train_loss": train_loss, "val_rmse": val_rmse}, step=epoch)
        print(f"lr={args.lr} epochs={args.epochs}: val_rmse={val_rmse:.3f}")


if __name__ == "__main__":
    main()
