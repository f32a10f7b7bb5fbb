"""Hugging Face transformers: GittrackCallback on a Trainer with a tiny, randomly initialised BERT (no download)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

import gittrack
from gittrack.integrations.transformers import GittrackCallback


class _Data(torch.utils.data.Dataset):
    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, 30, (16, 6), generator=generator)
        self.labels = (self.ids[:, 0] > 15).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "attention_mask": torch.ones(6, dtype=torch.long), "labels": self.labels[i]}


def _model() -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=16, num_labels=2)  # fmt: skip
    return BertForSequenceClassification(config)


def _trainer(model, output: Path, callbacks=None) -> Trainer:
    args = TrainingArguments(output_dir=str(output), max_steps=4, per_device_train_batch_size=4, logging_steps=1,
                             learning_rate=0.01, report_to="none", save_strategy="no", use_cpu=True,
                             disable_tqdm=True)  # fmt: skip
    return Trainer(model=model, args=args, train_dataset=_Data(), callbacks=callbacks)


def _check_run(run_id: str, model) -> None:
    run = gittrack.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["hidden_size"] == "8"
    assert run.data.params["learning_rate"] == "0.01"
    assert run.data.params["max_steps"] == "4"
    assert [p.step for p in gittrack.Client().get_metric_history(run_id, "loss")] == [1, 2, 3, 4]
    assert "train_runtime" in run.data.metrics
    loaded = gittrack.load_model(f"runs:/{run_id}/model")
    assert isinstance(loaded, BertForSequenceClassification)
    batch = _Data()[0]
    model.eval()
    with torch.no_grad():
        expected = model(input_ids=batch["input_ids"][None]).logits
        torch.testing.assert_close(loaded(input_ids=batch["input_ids"][None]).logits, expected)


@pytest.mark.slow
def test_the_callback_records_args_config_logged_metrics_and_model(dvc_project, tmp_path) -> None:
    model = _model()
    callback = GittrackCallback()
    _trainer(model, tmp_path / "out", [callback]).train()
    _check_run(callback.run_id, model)
    assert gittrack.active_run() is None


@pytest.mark.slow
def test_autolog_adds_the_callback_to_every_trainer(autologging, tmp_path) -> None:
    autologging.transformers()
    model = _model()
    trainer = _trainer(model, tmp_path / "out")
    [callback] = [c for c in trainer.callback_handler.callbacks if isinstance(c, GittrackCallback)]
    trainer.train()
    gittrack.autolog(disable=True)
    _check_run(callback.run_id, model)
