"""An ML signal: LightGBM on returns, volatility and range features, retrained weekly on 1h bars.

Load it by file like any research strategy:
    quantdesk backtest research/strategies/ml_signal.py:MlSignal --symbol BTC/USDT --timeframe 1h
Every MLStrategy parameter can be set with --param (model=ridge, train_window=720, horizon=6, ...).
"""

from __future__ import annotations

from quantdesk.ml import MLStrategy, param


class MlSignal(MLStrategy):
    """Long/short the sign of a LightGBM forecast of the 6-bar forward return."""

    model = param("lightgbm", doc="a registered model (quantdesk.ml.MODELS)")
    horizon = param(6, min=1, max=10_000, doc="label horizon in bars")
    train_window = param(720, min=2, max=10_000_000, doc="training samples (30 days of 1h)")
    retrain_every = param(168, min=1, max=10_000_000, doc="bars between retrains (weekly on 1h)")
    embargo = param(2, min=0, max=10_000, doc="bars dropped after the purge")
