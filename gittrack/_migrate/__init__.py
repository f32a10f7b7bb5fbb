"""Moving history in and out: MLflow stores and DVC experiments into gittrack runs, and back.

Reached through ``Client.import_mlflow``, ``Client.import_dvc_experiments`` and
``Client.export_mlflow``; see docs/migrate.md.
"""
