"""``mlflow.version``: the MLflow API version ``gittrack.mlflow`` implements (gittrack's own
version is ``gittrack.__version__``)."""

VERSION = "3.17.2"  # the MLflow release whose API and answers gittrack.mlflow is checked against

__all__ = ["VERSION"]
