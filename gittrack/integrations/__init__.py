"""Training frameworks: ``gittrack.autolog()`` and the callbacks and loggers it attaches.

``autolog`` (also ``gittrack.autolog``) patches scikit-learn, XGBoost, LightGBM, Lightning,
Optuna, hyperopt and transformers as they are imported. The per-framework modules are public
for use by hand: ``lightning.GittrackLogger``, ``optuna.GittrackCallback``, ``hyperopt.fmin``
and ``transformers.GittrackCallback``. Nothing here imports a framework until it is used.
"""

from gittrack.integrations._autolog import autolog, turn_off

__all__ = ["autolog", "turn_off"]
