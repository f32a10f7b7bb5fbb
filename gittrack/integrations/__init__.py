"""Framework integrations: callbacks and loggers that write gittrack runs (import the one you need).

``lightning.GittrackLogger``, ``optuna.GittrackCallback``, ``hyperopt.fmin`` and
``transformers.GittrackCallback``; ``gittrack.autolog()`` attaches them by itself.
"""
