"""PyTorch Lightning: GittrackLogger and autologging, with a tiny model trained on the CPU."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import gittrack
from gittrack.integrations.lightning import GittrackLogger


class TinyRegressor(pl.LightningModule):
    def __init__(self, hidden: int = 4, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def _loaders():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=generator)
    y = x.sum(dim=1, keepdim=True)
    return DataLoader(TensorDataset(x, y), batch_size=8), DataLoader(TensorDataset(x[:16], y[:16]), batch_size=8)


def _trainer(**kwargs) -> pl.Trainer:
    return pl.Trainer(max_epochs=3, log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False,
                      accelerator="cpu", devices=1, **kwargs)  # fmt: skip


def _check_run(run_id: str, model: TinyRegressor) -> gittrack.Run:
    run = gittrack.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"hidden": "4", "lr": "0.05"}
    history = gittrack.Client().get_metric_history(run_id, "train_loss")
    assert [p.step for p in history] == list(range(12))  # 4 batches x 3 epochs, step = global step
    assert [p.step for p in gittrack.Client().get_metric_history(run_id, "val_loss")] == [3, 7, 11]
    paths = {a["path"] for a in run.details.artifacts}
    assert "model" in paths
    assert any(p.startswith("checkpoints/") and p.endswith(".ckpt") for p in paths)
    loaded = gittrack.load_model(f"runs:/{run_id}/model")
    assert isinstance(loaded, TinyRegressor)
    x = torch.randn(5, 3)
    model.eval()
    loaded.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    return run


@pytest.mark.slow
def test_the_logger_records_hyperparams_metrics_checkpoints_and_the_best_model(dvc_project) -> None:
    torch.manual_seed(0)
    model = TinyRegressor()
    logger = GittrackLogger(experiment="lightning", run_name="tiny")
    train, valid = _loaders()
    _trainer(logger=logger).fit(model, train, valid)
    run = _check_run(logger.run_id, model)
    assert run.info.experiment == "lightning"
    assert run.info.run_name == "tiny"
    assert gittrack.active_run() is None


@pytest.mark.slow
def test_autolog_attaches_the_logger_to_every_fit(autologging) -> None:
    autologging.lightning()
    torch.manual_seed(0)
    model = TinyRegressor()
    train, valid = _loaders()
    _trainer(logger=False).fit(model, train, valid)
    run_id = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)
    _check_run(run_id, model)
