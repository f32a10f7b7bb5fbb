"""``mlflow.protos`` for gittrack: only the error codes user code compares with."""
