"""``mlflow.utils`` for gittrack (only what user code imports from it)."""
